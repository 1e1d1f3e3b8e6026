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
