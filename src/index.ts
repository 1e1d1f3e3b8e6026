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
  StsMethodOptions,
  WebIdentityMethodOptions,
} from "./session/methods.js";
export { DEFAULT_CLIENT_CACHE_SIZE } from "./session/clientCache.js";
