import {
  SMITHY_CONTEXT_KEY,
  type AbsoluteLocation,
  type AwsCredentialIdentity,
  type HandlerExecutionContext,
  type InitializeHandler,
  type InitializeHandlerArguments,
  type InitializeHandlerOptions,
  type InitializeHandlerOutput,
  type InitializeMiddleware,
  type Logger,
  type MiddlewareStack,
} from "@smithy/types";
import type { ClientPlugin } from "./clientPlugin.js";
import { errorMessage } from "../errors.js";
import { isRefreshable } from "../refresh/refreshable.js";
import type { RefreshableCredentials } from "../refresh/types.js";
import { RecoveryCoordinator } from "../refresh/recoveryCoordinator.js";
import { redactKeyId } from "../refresh/redact.js";
import {
  classifyFailure,
  EXPIRED_CREDENTIAL_ERROR_CODES,
  EXPIRED_SIGNATURE_ERROR_CODES,
  type RecoveryKind,
} from "./recoverableErrors.js";

/**
 * Replays per request unless told otherwise: one.
 *
 * @example
 * ```ts
 * getExpiredTokenRecoveryPlugin(credentials, { maxReplays: DEFAULT_MAX_REPLAYS + 1 });
 * ```
 */
export const DEFAULT_MAX_REPLAYS = 1;

/**
 * Payload of the `recovered` event: a request AWS refused for a dead credential or signature succeeded on replay.
 *
 * @example
 * ```ts
 * session.on("recovered", (e: RecoveredEvent) => log.info(`${e.service}.${e.operation} recovered from ${e.code}`));
 * ```
 */
export interface RecoveredEvent {
  /** The error code that triggered the replay, e.g. `ExpiredToken`. */
  code: string;
  /** `credential` (a refresh was needed) or `signature` (re-signing was enough). */
  kind: RecoveryKind;
  /** The operation, e.g. `GetObject`. */
  operation: string;
  /** The client, e.g. `S3`. */
  service: string;
  /** Sends of this request by the middleware, the original included (2 after one replay). */
  attempts: number;
  /** Whether this request's failure forced a refresh (false when the credential had already rotated, or joined one). */
  refreshed: boolean;
  /** The credential that signed the refused request, masked: `****WXYZ`. */
  previousAccessKeyId: string;
  /** The credential that signed the successful replay, masked. */
  accessKeyId: string;
}

/**
 * Why a recognised failure was not (or could not be) recovered.
 *
 * @example
 * ```ts
 * session.on("recovery-failed", (e) => {
 *   if (e.reason === "one-shot-body") log.warn("send Buffers, not streams, to survive token expiry");
 * });
 * ```
 */
export type UnrecoveredReason = "replays-exhausted" | "one-shot-body" | "same-credential" | "refresh-failed";

/**
 * Payload of the `recovery-failed` event: a recognised failure reached the caller.
 *
 * @example
 * ```ts
 * session.on("recovery-failed", (e: UnrecoveredEvent) => alert(`${e.operation}: ${e.code} (${e.reason})`));
 * ```
 */
export interface UnrecoveredEvent {
  code: string;
  operation: string;
  service: string;
  attempts: number;
  reason: UnrecoveredReason;
  /** The error the caller receives (its message carries the advice). */
  error: Error;
}

/**
 * Options of {@link getExpiredTokenRecoveryPlugin} and {@link expiredTokenRecoveryMiddleware} (and the session's
 * `recovery` option, without `logger`).
 *
 * @example
 * ```ts
 * const options: ExpiredTokenRecoveryOptions = { maxReplays: 2, errorCodes: [...EXPIRED_CREDENTIAL_ERROR_CODES, "MyCode"] };
 * ```
 */
export interface ExpiredTokenRecoveryOptions {
  /** Replays per request after a recognised failure; 0 turns recovery off. Default 1. */
  maxReplays?: number;
  /** Codes meaning "this credential is dead": force a refresh, then replay. Default {@link EXPIRED_CREDENTIAL_ERROR_CODES}. */
  errorCodes?: readonly string[];
  /** Codes meaning "this signature is too old": replay, re-signed, without a refresh. Default {@link EXPIRED_SIGNATURE_ERROR_CODES}. */
  signatureErrorCodes?: readonly string[];
  /**
   * Treat a HEAD answered 400 without an error code as an expired credential (S3 HeadObject/HeadBucket cannot carry
   * `ExpiredToken`). If a refresh does not cure it, HEAD 400s are left alone for a minute. Default true.
   */
  headRequests?: boolean;
  /** Called after each recovered request. Listener errors are logged, never thrown. */
  onRecovered?: (event: RecoveredEvent) => void;
  /** Called when a recognised failure reaches the caller. */
  onUnrecovered?: (event: UnrecoveredEvent) => void;
  /** The SDK's Logger interface. Default: the client's logger (context.logger). */
  logger?: Logger;
}

/**
 * Where {@link expiredTokenRecoveryMiddleware} sits: the `initialize` step, innermost (`low`), so it wraps the
 * `serialize` step where `httpAuthSchemeMiddleware` resolves the credential and the `finalizeRequest` step where
 * `retryMiddleware` and `httpSigningMiddleware` retry and sign. A replay therefore resolves and signs anew.
 *
 * @example
 * ```ts
 * client.middlewareStack.add(expiredTokenRecoveryMiddleware(credentials), expiredTokenRecoveryMiddlewareOptions);
 * ```
 */
export const expiredTokenRecoveryMiddlewareOptions: InitializeHandlerOptions & AbsoluteLocation = Object.freeze({
  name: "expiredTokenRecoveryMiddleware",
  step: "initialize",
  tags: ["EXPIRED_TOKEN_RECOVERY"],
  priority: "low",
  override: true,
});

function isIdentity(v: unknown): v is AwsCredentialIdentity {
  return v !== null && typeof v === "object" && typeof (v as { accessKeyId?: unknown }).accessKeyId === "string";
}

/** The credential `httpAuthSchemeMiddleware` resolved for the last attempt: the one that signed it. */
function signingIdentity(context: HandlerExecutionContext): AwsCredentialIdentity | undefined {
  const identity = context[SMITHY_CONTEXT_KEY]?.selectedHttpAuthScheme?.identity;
  return isIdentity(identity) ? identity : undefined;
}

/** A body the SDK reads once: a Node stream, a web ReadableStream or an async iterable. Buffers, strings, Blobs replay. */
function isOneShot(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return false;
  if (typeof Blob !== "undefined" && v instanceof Blob) return false;
  const o = v as { pipe?: unknown; getReader?: unknown; [Symbol.asyncIterator]?: unknown };
  return (
    typeof o.pipe === "function" || typeof o.getReader === "function" || typeof o[Symbol.asyncIterator] === "function"
  );
}

function hasOneShotBody(input: unknown): boolean {
  if (input === null || typeof input !== "object") return false;
  return Object.values(input).some(isOneShot);
}

/** Appends advice to an SDK error's message, keeping the error itself (its name, code and $metadata) intact. */
function annotate(err: unknown, note: string): void {
  if (err === null || typeof err !== "object") return;
  try {
    const e = err as { message?: unknown };
    e.message = `${typeof e.message === "string" ? e.message : ""} [aws-refresh-session: ${note}]`;
  } catch {
    // A frozen error keeps its message.
  }
}

function validate(credentials: unknown, o: ExpiredTokenRecoveryOptions): void {
  if (!isRefreshable(credentials)) {
    throw new TypeError(
      "`credentials` must be the refreshable() engine the client signs with (session.credentials or refreshable(source))",
    );
  }
  if (o === null || typeof o !== "object") throw new TypeError("`options` must be an object");
  if (o.maxReplays !== undefined && !(Number.isInteger(o.maxReplays) && o.maxReplays >= 0)) {
    throw new RangeError(`\`maxReplays\` must be an integer >= 0, got ${String(o.maxReplays)}`);
  }
  for (const k of ["errorCodes", "signatureErrorCodes"] as const) {
    const v = o[k];
    if (v !== undefined && !(Array.isArray(v) && v.every((c) => typeof c === "string"))) {
      throw new TypeError(`\`${k}\` must be an array of error code strings`);
    }
  }
  if (o.headRequests !== undefined && typeof o.headRequests !== "boolean") {
    throw new TypeError("`headRequests` must be a boolean");
  }
  for (const k of ["onRecovered", "onUnrecovered"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "function") throw new TypeError(`\`${k}\` must be a function`);
  }
}

const strip = (s: string | undefined, suffix: string): string =>
  s === undefined ? "unknown" : s.endsWith(suffix) ? s.slice(0, -suffix.length) : s;

/**
 * Middleware that recovers a request AWS refused because its credential or signature is no longer valid: on a
 * recognised error it forces one refresh of `credentials` (joining one in flight, skipped when the credential rotated
 * since the request was signed), then sends the request again so the SDK resolves and signs it with the new one.
 * Replays at most `maxReplays` times per request and never with the same token; a one-shot stream body is not replayed.
 * Add it with {@link expiredTokenRecoveryMiddlewareOptions}, or use {@link getExpiredTokenRecoveryPlugin}.
 *
 * @example
 * ```ts
 * import { S3Client } from "@aws-sdk/client-s3";
 * import { refreshable, expiredTokenRecoveryMiddleware, expiredTokenRecoveryMiddlewareOptions } from "aws-refresh-session";
 *
 * const credentials = refreshable(source);
 * const s3 = new S3Client({ credentials });
 * s3.middlewareStack.add(expiredTokenRecoveryMiddleware(credentials), expiredTokenRecoveryMiddlewareOptions);
 * ```
 */
export function expiredTokenRecoveryMiddleware<Input extends object = object, Output extends object = object>(
  credentials: RefreshableCredentials,
  options: ExpiredTokenRecoveryOptions = {},
): InitializeMiddleware<Input, Output> {
  validate(credentials, options);
  const maxReplays = options.maxReplays ?? DEFAULT_MAX_REPLAYS;
  const codes = new Set(options.errorCodes ?? EXPIRED_CREDENTIAL_ERROR_CODES);
  const signatureCodes = new Set(options.signatureErrorCodes ?? EXPIRED_SIGNATURE_ERROR_CODES);
  const headRequests = options.headRequests ?? true;
  // Shared by every client signing with this engine: one forced refresh per dead credential.
  const recovery = credentials.recovery;

  /** The slow path, entered only once a request has failed: classify, refresh, replay. */
  async function recover<Input extends object, Output extends object>(
    firstError: unknown,
    next: InitializeHandler<Input, Output>,
    args: InitializeHandlerArguments<Input>,
    context: HandlerExecutionContext,
  ): Promise<InitializeHandlerOutput<Output>> {
    const logger = options.logger ?? context.logger;
    const operation = strip(context.commandName, "Command");
    const service = strip(context.clientName, "Client");
    let replays = 0;
    let first: { code: string; kind: RecoveryKind; signedWith: string; refreshed: boolean } | undefined;
    let guessed = false;
    const safeCall = <E>(fn: ((e: E) => void) | undefined, e: E): void => {
      try {
        fn?.(e);
      } catch (err) {
        logger?.error?.(`aws-refresh-session: a recovery listener threw: ${errorMessage(err)}`);
      }
    };
    const giveUp = (err: unknown, code: string, reason: UnrecoveredReason, note: string): never => {
      annotate(err, note);
      logger?.warn?.(`aws-refresh-session: ${service}.${operation} failed with ${code} and was not replayed: ${note}`);
      safeCall(options.onUnrecovered, {
        code,
        operation,
        service,
        attempts: replays + 1,
        reason,
        error: err instanceof Error ? err : new Error(String(err)),
      });
      throw err;
    };
    let err: unknown = firstError;
    for (;;) {
      const failure = classifyFailure(err, {
        codes,
        signatureCodes,
        headRequests: headRequests && recovery.headGuessAllowed(),
        commandName: context.commandName,
      });
      if (!failure) throw err;
      // Clients that resolve credentials outside httpAuthSchemeMiddleware do not say what signed: assume the current.
      const signedWith = signingIdentity(context) ?? credentials.peek();
      const masked = redactKeyId(signedWith?.accessKeyId);
      if (replays >= maxReplays) {
        // A refresh did not cure a HEAD 400: it was not an expired token; stop guessing for a while.
        if (guessed && failure.guessed) recovery.stopHeadGuessing();
        return giveUp(
          err,
          failure.code,
          "replays-exhausted",
          `replayed ${replays} time(s) with a new credential (${masked}) and AWS still refused it; ` +
            "check that the client signs with the same refreshable credentials this recovery refreshes",
        );
      }
      if (hasOneShotBody(args.input)) {
        return giveUp(
          err,
          failure.code,
          "one-shot-body",
          "not replayed because the request body is a one-shot stream; pass a Buffer, string, Uint8Array or Blob " +
            "(lib-storage's Upload does this for you) so it can be replayed, or send the request again yourself",
        );
      }
      let refreshed = false;
      if (failure.kind === "credential") {
        let fresh: AwsCredentialIdentity;
        try {
          ({ identity: fresh, refreshed } = await recovery.freshAfter(signedWith));
        } catch (refreshErr) {
          return giveUp(
            err,
            failure.code,
            "refresh-failed",
            `the credential ${masked} from "${credentials.sourceName}" was refused and refreshing it failed: ` +
              `${errorMessage(refreshErr)}`,
          );
        }
        if (signedWith && RecoveryCoordinator.same(fresh, signedWith)) {
          return giveUp(
            err,
            failure.code,
            "same-credential",
            `source "${credentials.sourceName}" returned the refused credential ${masked} again; not replayed with ` +
              "a dead token. Check that the source issues new credentials (a cache in front of it may be stale)",
          );
        }
      }
      first ??= { code: failure.code, kind: failure.kind, signedWith: masked, refreshed };
      guessed ||= failure.guessed;
      replays++;
      try {
        const out = await next(args);
        const now = signingIdentity(context);
        const event: RecoveredEvent = {
          code: first.code,
          kind: first.kind,
          operation,
          service,
          attempts: replays + 1,
          refreshed: first.refreshed,
          previousAccessKeyId: first.signedWith,
          accessKeyId: redactKeyId(now?.accessKeyId),
        };
        logger?.info?.(
          `aws-refresh-session: ${service}.${operation} recovered from ${first.code} on replay ${replays} ` +
            `(${event.previousAccessKeyId} -> ${event.accessKeyId})`,
        );
        safeCall(options.onRecovered, event);
        return out;
      } catch (again) {
        err = again;
      }
    }
  }

  if (maxReplays === 0) return (next) => next;
  // The hot path: one try around the request; nothing is allocated unless it fails.
  return (next, context) => async (args) => {
    try {
      return await next(args);
    } catch (err) {
      return recover(err, next, args, context);
    }
  };
}

/**
 * The SDK plugin form of {@link expiredTokenRecoveryMiddleware}: `client.middlewareStack.use(plugin)`. Every
 * `session.client()` has it already; use it on clients you build yourself with any `refreshable()`.
 *
 * @example
 * ```ts
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { getExpiredTokenRecoveryPlugin } from "aws-refresh-session";
 *
 * const ddb = new DynamoDBClient(session.clientConfig());
 * ddb.middlewareStack.use(getExpiredTokenRecoveryPlugin(session.credentials, { maxReplays: 1 }));
 * ```
 */
export function getExpiredTokenRecoveryPlugin(
  credentials: RefreshableCredentials,
  options: ExpiredTokenRecoveryOptions = {},
): ClientPlugin {
  const middleware = expiredTokenRecoveryMiddleware(credentials, options);
  return {
    applyToStack<Input extends object, Output extends object>(stack: MiddlewareStack<Input, Output>): void {
      stack.add(middleware as unknown as InitializeMiddleware<Input, Output>, expiredTokenRecoveryMiddlewareOptions);
    },
  };
}
