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
