export { RefreshSessionError } from "./errors.js";
export type { RefreshSessionErrorCode, RefreshSessionErrorContext } from "./errors.js";
export {
  refreshable,
  isRefreshable,
  DEFAULT_ADVISORY_MS,
  DEFAULT_MANDATORY_MS,
  DEFAULT_JITTER,
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_MAX_RETRY_MS,
} from "./refresh/refreshable.js";
export type {
  Clock,
  CredentialSource,
  ExpiredEvent,
  RefreshEvent,
  RefreshFailedEvent,
  RefreshListener,
  RefreshMetrics,
  RefreshableCredentials,
  RefreshableEvents,
  RefreshableOptions,
} from "./refresh/refreshable.js";
export { redactKeyId } from "./refresh/redact.js";
export { RefreshableSession } from "./session/RefreshableSession.js";
export type {
  CallerIdentity,
  ClientConstructor,
  RefreshableSessionOptions,
  SessionCommonOptions,
  SessionEvents,
  SessionMetrics,
} from "./session/RefreshableSession.js";
export type {
  CustomMethodOptions,
  MethodOptions,
  ProviderMethodOptions,
  SessionEnd,
  SourceStatusItem,
  SsoMethodOptions,
  StsMethodOptions,
  WebIdentityMethodOptions,
} from "./session/methods.js";
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
export { ClockSkew, DEFAULT_CLOCK_SKEW_THRESHOLD_MS } from "./session/clockSkew.js";
export type { ClockSkewEvent, ClockSkewOptions } from "./session/clockSkew.js";
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
export { ssoNotifyEnv, DEFAULT_SSO_NOTIFY_TIMEOUT_MS } from "./sso/notify.js";
export type { SsoLoginRequired, SsoNotify } from "./sso/notify.js";
export { predictSsoSessionEnd, DEFAULT_SSO_SESSION_DURATION_MS } from "./sso/session-end.js";
export type { SsoSessionEnd, SsoDurationSource, SsoPredictionInput } from "./sso/session-end.js";
export type { SsoSessionEnding, SsoLoginCompleted } from "./sso/manager.js";
export type { SsoOidcClientConfig } from "./sso/oidc.js";
