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
} from "./emulator/emulator.js";
export type { FaultSpec } from "./emulator/faults.js";
export { sendJson, sendJsonError } from "./emulator/xml.js";
export {
  createSsoOidcService,
  DEFAULT_EMULATOR_SSO_SESSION_SECONDS,
  DEFAULT_EMULATOR_SSO_TOKEN_SECONDS,
  DEFAULT_EMULATOR_DEVICE_CODE_SECONDS,
  DEFAULT_EMULATOR_REGISTRATION_SECONDS,
} from "./emulator/sso-oidc.js";
export type { SsoOidcOptions, SsoOidcService, PendingAuthorization, EmulatorSsoSession } from "./emulator/sso-oidc.js";
export { createSsoPortalService, addSsoServices } from "./emulator/sso-portal.js";
export type { SsoAssignment, SsoPortalOptions, EmulatorSso } from "./emulator/sso-portal.js";
