export {
  startEmulator,
  DEFAULT_ROOT_CREDENTIALS,
  DEFAULT_EMULATOR_LIFETIME_SECONDS,
  MAX_SKEW_MS,
  MAX_PRESIGN_SECONDS,
} from "./emulator/emulator.js";
export type {
  Emulator,
  EmulatorOptions,
  EmulatorRequestContext,
  EmulatorService,
  KnownCredential,
  RecordedRequest,
} from "./emulator/types.js";
export type { FaultSpec } from "./emulator/faults.js";
export { parseQuota, throttlingAnswer } from "./emulator/quotas.js";
export type { QuotaSpec, ThrottlingAnswer } from "./emulator/quotas.js";
export { sendJson, sendJsonError } from "./emulator/xml.js";
export {
  createSsoOidcService,
  DEFAULT_EMULATOR_SSO_SESSION_SECONDS,
  DEFAULT_EMULATOR_SSO_TOKEN_SECONDS,
  DEFAULT_EMULATOR_DEVICE_CODE_SECONDS,
  DEFAULT_EMULATOR_REGISTRATION_SECONDS,
} from "./emulator/sso-oidc.js";
export type {
  SsoOidcOptions,
  SsoOidcService,
  PendingAuthorization,
  EmulatorSsoSession,
  RegistrationView,
} from "./emulator/sso-oidc.js";
export { DEFAULT_EMULATOR_AUTHORIZATION_CODE_SECONDS } from "./emulator/sso-authorize.js";
export type { AuthorizationRequestView } from "./emulator/sso-authorize.js";
export { createSsoPortalService, addSsoServices } from "./emulator/sso-portal.js";
export type { SsoAssignment, SsoPortalOptions, EmulatorSso } from "./emulator/sso-portal.js";
export { createTestCa } from "./emulator/testCa.js";
export type { TestCa, TestCertificate, TestCertificateOptions } from "./emulator/testCa.js";
export { startIotCredentialsEndpoint } from "./emulator/iot.js";
export type { EmulatorRoleAlias, IotCredentialsEndpoint, IotCredentialsEndpointOptions } from "./emulator/iot.js";
export { addRolesAnywhere } from "./emulator/rolesanywhere.js";
export type {
  EmulatorRolesAnywhere,
  EmulatorRolesAnywhereProfile,
  EmulatorTrustAnchor,
  ReceivedCreateSession,
  RolesAnywhereOptions,
  RolesAnywhereTrustQuestion,
} from "./emulator/rolesanywhere.js";
export {
  addSignin,
  DEFAULT_EMULATOR_LOGIN_SESSION_SECONDS,
  DEFAULT_EMULATOR_LOGIN_CREDENTIAL_SECONDS,
  DEFAULT_EMULATOR_DPOP_MAX_SKEW_SECONDS,
  LOGIN_SAME_DEVICE_CLIENT_ID,
} from "./emulator/signin.js";
export type { EmulatorLogin, EmulatorLoginSession, EmulatorSignin, SigninOptions } from "./emulator/signin.js";
