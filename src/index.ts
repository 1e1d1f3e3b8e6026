export { RefreshSessionError } from "./errors.js";
export type { RefreshSessionErrorCode, RefreshSessionErrorContext } from "./errors.js";
export { refreshable, isRefreshable } from "./refresh/refreshable.js";
export {
  DEFAULT_ADVISORY_MS,
  DEFAULT_MANDATORY_MS,
  DEFAULT_JITTER,
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_MAX_RETRY_MS,
  DEFAULT_SPREAD,
  DEFAULT_SOURCE_TIMEOUT_MS,
  DEFAULT_FIRST_FETCH_TIMEOUT_MS,
} from "./refresh/options.js";
export type { Clock, CredentialSource } from "./types.js";
export type {
  EngineTimer,
  EngineTimers,
  ExpiredEvent,
  RefreshEvent,
  RefreshFailedEvent,
  RefreshListener,
  RefreshMetrics,
  RefreshableCredentials,
  RefreshableEvents,
  RefreshableOptions,
} from "./refresh/types.js";
export { redactKeyId } from "./refresh/redact.js";
export { isRetryableSourceError } from "./refresh/retryable.js";
export type { RecoveryCoordinator, FreshCredential } from "./refresh/recoveryCoordinator.js";
export { RefreshableSession } from "./session/RefreshableSession.js";
export type {
  CallerIdentity,
  ClientConstructor,
  RefreshableSessionOptions,
  SessionCommonOptions,
  SessionEvents,
  SessionMetrics,
} from "./session/RefreshableSession.js";
export { fromProfile } from "./profiles/fromProfile.js";
export type { ProfileDescription, ProfileSource } from "./profiles/fromProfile.js";
export type { ProfileInit, ProfileKind, ProfileMfaOptions } from "./profiles/types.js";
export { loadAwsConfig, resolveConfigPaths } from "./config/awsConfig.js";
export type { AwsConfigInit, AwsConfigPaths, LoadedAwsConfig, ProfileSection } from "./config/awsConfig.js";
export { fromCredentialProcess } from "./sources/process.js";
export type { CredentialProcessInit, CredentialProcessSource } from "./sources/process.js";
export { fromEnvironment } from "./sources/environment.js";
export type {
  CustomMethodOptions,
  MethodOptions,
  ProfileMethodOptions,
  ProviderMethodOptions,
  SsoMethodOptions,
  StsMethodOptions,
  WebIdentityMethodOptions,
  IotMethodOptions,
  RolesAnywhereMethodOptions,
  LoginMethodOptions,
} from "./session/methods.js";
export type {
  CertificateExpiring,
  CertificateSessionEnd,
  LoginCompleted,
  LoginSessionEnd,
  LoginSessionEnding,
  MfaSessionEnd,
  SessionEnd,
  SessionEndBase,
  SourceEmitter,
  SourceEvents,
  SourceDescription,
  SourceStatusItem,
} from "./types.js";
export { DEFAULT_CLIENT_CACHE_SIZE } from "./session/clientCache.js";
export { fromAssumeRole, DEFAULT_STS_REGION, DEFAULT_MFA_SESSION_DURATION_SECONDS } from "./sources/sts.js";
export type { AssumeRoleInit, AssumeRoleParams, AssumeRoleSource, MfaOptions } from "./sources/sts.js";
export { getMfaCode, DEFAULT_MFA_TIMEOUT_MS } from "./sources/mfa.js";
export type { MfaTokenCode } from "./sources/mfa.js";
export { fromWebIdentity } from "./sources/web-identity.js";
export type { WebIdentityInit } from "./sources/web-identity.js";
export { fromCustom } from "./sources/custom.js";
export type { CustomCredentials, CustomSourceFunction } from "./sources/custom.js";
export { fromProvider } from "./sources/provider.js";
export { fromIotCertificate, DEFAULT_IOT_TIMEOUT_MS } from "./sources/iot.js";
export type { IotCertificateInit, IotCertificateSource } from "./sources/iot.js";
export {
  fromRolesAnywhere,
  rolesAnywhereInitFromArgv,
  isSigningHelperCommand,
  DEFAULT_ROLES_ANYWHERE_DURATION_SECONDS,
  DEFAULT_ROLES_ANYWHERE_TIMEOUT_MS,
} from "./sources/roles-anywhere.js";
export type { RolesAnywhereArgvSecrets, RolesAnywhereInit, RolesAnywhereSource } from "./sources/roles-anywhere.js";
export type { CertificateMaterialInit } from "./certs/certificateMaterial.js";
export type { Pkcs11CertificateOptions, Pkcs11KeyOptions } from "./certs/pkcs11Options.js";
export { parsePkcs11Uri } from "./certs/pkcs11Uri.js";
export type { Pkcs11Uri } from "./certs/pkcs11Uri.js";
export {
  startCredentialServer,
  DEFAULT_SERVER_ADVISORY_MS,
  DEFAULT_SERVER_MANDATORY_MS,
  DEFAULT_STATIC_LIFETIME_MS,
} from "./server/credentialServer.js";
export type {
  CredentialServer,
  CredentialServerOptions,
  CredentialServerStats,
  ServedCredentials,
} from "./server/credentialServer.js";
export { childEnvironment, EXEC_MARKER_ENV, SHADOWING_ENV_VARS } from "./server/childEnvironment.js";
export type { ChildEnvironmentInit } from "./server/childEnvironment.js";
export { generateToken, loadOrCreateTokenFile, TOKEN_BYTES } from "./server/token.js";
export {
  expiredTokenRecoveryMiddleware,
  expiredTokenRecoveryMiddlewareOptions,
  getExpiredTokenRecoveryPlugin,
  DEFAULT_MAX_REPLAYS,
} from "./middleware/expiredTokenRecoveryMiddleware.js";
export type {
  ExpiredTokenRecoveryOptions,
  RecoveredEvent,
  UnrecoveredEvent,
  UnrecoveredReason,
} from "./middleware/expiredTokenRecoveryMiddleware.js";
export { EXPIRED_CREDENTIAL_ERROR_CODES, EXPIRED_SIGNATURE_ERROR_CODES } from "./middleware/recoverableErrors.js";
export type { RecoveryKind } from "./middleware/recoverableErrors.js";
export {
  clockSkewMiddleware,
  clockSkewMiddlewareOptions,
  getClockSkewPlugin,
} from "./middleware/clockSkewMiddleware.js";
export type { ClientPlugin } from "./middleware/clientPlugin.js";
export { ClockSkew, DEFAULT_CLOCK_SKEW_THRESHOLD_MS } from "./middleware/clockSkew.js";
export type { ClockSkewEvent, ClockSkewOptions } from "./middleware/clockSkew.js";
export {
  presignWithCredentials,
  presignedUrlExpiry,
  MAX_PRESIGN_EXPIRES_SECONDS,
  DEFAULT_PRESIGN_EXPIRES_SECONDS,
} from "./session/presign.js";
export type { PresignableClient, PresignableCommand, PresignedUrl, PresignOptions } from "./session/presign.js";
export {
  fromSso,
  DEFAULT_SSO_LOGIN_TIMEOUT_MS,
  DEFAULT_SSO_WARN_BEFORE_MS,
  DEFAULT_SSO_LOGIN_BEFORE_MS,
} from "./sources/sso.js";
export type { SsoInit, SsoSource } from "./sources/sso.js";
export {
  fromLogin,
  DEFAULT_LOGIN_SESSION_DURATION_MS,
  DEFAULT_LOGIN_WARN_BEFORE_MS,
  DEFAULT_LOGIN_LOCK_WAIT_MS,
} from "./sources/login.js";
export type { LoginInit, LoginSource } from "./sources/login.js";
export { loginCacheDir, loginCachePath } from "./sources/loginCache.js";
export type { LoginTokenFile } from "./sources/loginCache.js";
export { loadSsoConfig, SSO_SESSION_DURATION_CONFIG_KEY } from "./sso/config.js";
export type { SsoConfig, SsoConfigInit } from "./sso/config.js";
export {
  defaultSsoCacheDir,
  tokenCacheKey,
  registrationCacheKey,
  SSO_CACHE_FILE_MODE,
  SSO_CACHE_DIR_MODE,
  DEFAULT_SSO_LOCK_STALE_MS,
} from "./sso/cache.js";
export type { SsoTokenFile, SsoRegistrationFile } from "./sso/cache.js";
export { deviceLogin, DEFAULT_SSO_REGISTRATION_SCOPES } from "./sso/login.js";
export type { DeviceLoginOptions, DeviceLoginResult, DeviceAuthorizationPrompt } from "./sso/login.js";
export { pkceLogin, DEFAULT_PKCE_LOGIN_TIMEOUT_MS } from "./sso/pkce.js";
export type { PkceLoginOptions, PkceLoginResult, AuthorizationCodePrompt } from "./sso/pkce.js";
export type { SsoLoginResult } from "./sso/loginToken.js";
export { canOpenBrowser, openBrowser } from "./sso/browser.js";
export { ssoNotifyEnv, DEFAULT_SSO_NOTIFY_TIMEOUT_MS } from "./sso/notify.js";
export type { SsoLoginRequired, SsoNotify } from "./sso/notify.js";
export { predictSsoSessionEnd, DEFAULT_SSO_SESSION_DURATION_MS } from "./sso/session-end.js";
export type { SsoSessionEnd, SsoDurationSource, SsoPredictionInput } from "./sso/session-end.js";
export type { SsoSessionEnding, SsoLoginCompleted } from "./sso/manager.js";
export type { SsoOidcClientConfig } from "./sso/oidc.js";
