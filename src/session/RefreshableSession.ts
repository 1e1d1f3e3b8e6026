import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity, Logger, MiddlewareStack } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import { getClockSkewPlugin } from "../middleware/clockSkewMiddleware.js";
import {
  getExpiredTokenRecoveryPlugin,
  type RecoveredEvent,
  type UnrecoveredEvent,
} from "../middleware/expiredTokenRecoveryMiddleware.js";
import { refreshable } from "../refresh/refreshable.js";
import type { Clock } from "../types.js";
import type { RefreshMetrics, RefreshableCredentials, RefreshableEvents } from "../refresh/types.js";
import { ClientCache, DEFAULT_CLIENT_CACHE_SIZE, type Destroyable } from "./clientCache.js";
import { ClockSkew, type ClockSkewEvent } from "../middleware/clockSkew.js";
import type { SessionEnd, SessionSource, SourceDescription, SourceEvents, SourceStatusItem } from "../types.js";
import { checkSessionOptions, COMMON_KEYS, type RefreshableSessionOptions } from "./sessionOptions.js";
import {
  presignWithCredentials,
  type PresignableClient,
  type PresignableCommand,
  type PresignedUrl,
  type PresignOptions,
} from "./presign.js";

export type { RefreshableSessionOptions, SessionCommonOptions } from "./sessionOptions.js";

/** What `whoami()` resolves to: STS GetCallerIdentity's answer. */
export interface CallerIdentity {
  Account: string;
  Arn: string;
  UserId: string;
}

/** Events of a session, by name: the engine's, the source's, and the session's own. */
export interface SessionEvents extends RefreshableEvents, SourceEvents {
  /** A request AWS refused for a dead credential or signature succeeded on replay. */
  recovered: RecoveredEvent;
  /** A recognised expired-token failure reached the caller (replay exhausted, one-shot body, refresh failed…). */
  "recovery-failed": UnrecoveredEvent;
  /** The offset to AWS's clock passed `clockSkew.thresholdMs` (or came back under it). */
  "clock-skew": ClockSkewEvent;
}

/** Session metrics: the engine's plus the session's own. */
export interface SessionMetrics extends RefreshMetrics {
  /** Clients currently cached. */
  cachedClients: number;
  /** Requests recovered by a replay after an expired-token or expired-signature error. */
  recoveries: number;
  /** Recognised expired-token failures that reached the caller. */
  recoveryFailures: number;
  /** AWS's clock minus the local clock (ms), learnt from responses; 0 before any, or with `clockSkew: false`. */
  clockSkewMs: number;
}

/** Any SDK v3 client class. */
export type ClientConstructor<C, Config> = new (config: Config) => C;

/** Session-level events (everything in {@link SessionEvents} but the engine's). */
const SESSION_EVENTS = new Set<string>([
  "recovered",
  "recovery-failed",
  "clock-skew",
  "sso-session-ending",
  "sso-login-required",
  "sso-login-completed",
  "certificate-expiring",
  "login-session-ending",
  "login-completed",
] satisfies Exclude<keyof SessionEvents, keyof RefreshableEvents>[]);
const ENGINE_EVENTS = new Set<string>(["refresh", "refresh-failed", "expired"] satisfies (keyof RefreshableEvents)[]);

/**
 * A credential that refreshes itself in the background, and the SDK clients that share it.
 *
 * @example
 * ```ts
 * import { S3Client, ListObjectsV2Command } from "@aws-sdk/client-s3";
 * import { RefreshableSession } from "aws-refresh-session";
 *
 * const session = new RefreshableSession({
 *   method: "sts",
 *   assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl" },
 *   region: "us-east-1",
 * });
 * const s3 = session.client(S3Client); // cached: the same instance for the same arguments
 * await s3.send(new ListObjectsV2Command({ Bucket: "b" }));
 * console.log(await session.whoami());
 * session.close();
 * ```
 */
export class RefreshableSession {
  /** The engine: pass it as `credentials` to any SDK v3 client. */
  readonly credentials: RefreshableCredentials;
  readonly method: string;
  readonly #source: SessionSource;
  readonly #cache: ClientCache | undefined;
  readonly #region: string | undefined;
  readonly #logger: Logger | undefined;
  readonly #listeners = new Map<keyof SessionEvents, Set<(payload: never) => void>>();
  readonly #skew: ClockSkew | undefined;
  readonly #plugins: ClientPlugin[] = [];
  readonly #counts = { recoveries: 0, recoveryFailures: 0 };
  #closed = false;

  constructor(options: RefreshableSessionOptions) {
    const { method, factory } = checkSessionOptions(options);
    this.method = method;
    this.#logger = options.logger;
    const localClock: Clock = options.refresh?.clock ?? Date;
    if (options.clockSkew !== false) {
      this.#skew = new ClockSkew({
        ...options.clockSkew,
        clock: localClock,
        logger: options.logger,
        onEvent: (e) => this.emit("clock-skew", e),
      });
    }
    // Expiry decisions in AWS's time: a credential's Expiration is stated by AWS's clock, not ours.
    const clock: Clock = this.#skew?.clock ?? localClock;
    const skewPlugins = this.#skew ? [getClockSkewPlugin(this.#skew)] : [];
    const methodOptions: Record<string, unknown> = { ...options };
    for (const key of COMMON_KEYS) delete methodOptions[key];
    // A certificate source signs for (Roles Anywhere) or reports (IoT) its region: the session's is its own.
    if ((method === "roles-anywhere" || method === "iot") && options.region !== undefined) {
      methodOptions.region = options.region;
    }
    this.#source = factory(methodOptions as never, { logger: options.logger, clock, clientPlugins: skewPlugins });
    this.#region = options.region ?? this.#source.region;
    this.credentials = refreshable(this.#source.source, {
      ...options.refresh,
      clock,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.#source.bindEmitter?.((event, payload) => {
      this.emit(event, payload as SessionEvents[typeof event]);
      // A login made while the engine was failing for want of one: fetch now, not at the backed-off retry, so a
      // running process carries on within moments of the user's login.
      if (
        (event === "sso-login-completed" || event === "login-completed") &&
        this.credentials.metrics().consecutiveFailures > 0
      ) {
        this.credentials.refresh().catch(() => undefined);
      }
    });
    if (options.recovery !== false) {
      const user = options.recovery ?? {};
      this.#plugins.push(
        getExpiredTokenRecoveryPlugin(this.credentials, {
          ...user,
          ...(options.logger ? { logger: options.logger } : {}),
          onRecovered: (e) => {
            this.#counts.recoveries++;
            this.emit("recovered", e);
            user.onRecovered?.(e);
          },
          onUnrecovered: (e) => {
            this.#counts.recoveryFailures++;
            this.emit("recovery-failed", e);
            user.onUnrecovered?.(e);
          },
        }),
      );
    }
    this.#plugins.push(...skewPlugins);
    this.#cache =
      options.clientCache === false
        ? undefined
        : new ClientCache(options.clientCache?.maxSize ?? DEFAULT_CLIENT_CACHE_SIZE);
  }

  /**
   * A client of `ClientClass` using the session's credentials and region. The same class and config give the same
   * (cached) instance; the least recently used clients are destroyed past `clientCache.maxSize`.
   */
  client<C extends Destroyable, Config extends object>(
    ClientClass: ClientConstructor<C, Config>,
    config?: Omit<Config, "credentials">,
  ): C {
    this.#assertOpen();
    if (typeof ClientClass !== "function") throw new TypeError("`ClientClass` must be an SDK v3 client class");
    if (config !== undefined && (config === null || typeof config !== "object")) {
      throw new TypeError("`config` must be an object");
    }
    if (config && "credentials" in config) {
      throw new TypeError(
        "`config.credentials` cannot be set on session.client(): the session provides them. " +
          "Create the client with `new` if it needs other credentials.",
      );
    }
    const key = this.#cache?.key(ClientClass, config);
    if (key !== undefined) {
      const hit = this.#cache?.get(key);
      if (hit) return hit as C;
    }
    const client = new ClientClass(this.clientConfig(config) as Config);
    const stack = (client as { middlewareStack?: { use?: (p: ClientPlugin) => void } }).middlewareStack;
    if (typeof stack?.use === "function") for (const plugin of this.#plugins) stack.use(plugin);
    if (key !== undefined) this.#cache?.set(key, client);
    return client;
  }

  /**
   * The session's SDK plugins in one: ExpiredToken recovery and the shared clock offset. `client()` adds it for you;
   * add it yourself to clients built with `new X(session.clientConfig())`.
   *
   * @example
   * ```ts
   * const ddb = new DynamoDBClient(session.clientConfig({ maxAttempts: 5 }));
   * ddb.middlewareStack.use(session.plugin());
   * ```
   */
  plugin(): ClientPlugin {
    const plugins = [...this.#plugins];
    return {
      applyToStack<Input extends object, Output extends object>(stack: MiddlewareStack<Input, Output>): void {
        for (const p of plugins) p.applyToStack(stack);
      },
    };
  }

  /**
   * A presigned URL whose `expiresAt` is when it really stops working: the earlier of the asked lifetime and the
   * signing credential's expiry. If the credential expires first, the session refreshes it first; if a new one would
   * still expire first, the lifetime is capped (or, with `strict`, a `PRESIGN_LIFETIME` error names both times).
   * Signed at AWS's time (skew-corrected). `expiresIn` is 1..604800 s (SigV4's 7 days); default 900.
   *
   * @example
   * ```ts
   * const s3 = session.client(S3Client);
   * const { url, expiresAt } = await session.presign(s3, new GetObjectCommand({ Bucket: "b", Key: "k" }), {
   *   expiresIn: 3600,
   * });
   * ```
   */
  async presign(
    client: PresignableClient,
    command: PresignableCommand,
    options: PresignOptions = {},
  ): Promise<PresignedUrl> {
    this.#assertOpen();
    return presignWithCredentials(client, command, {
      ...options,
      credentials: this.credentials,
      clock: this.#skew?.clock ?? Date,
      ...(this.#logger ? { logger: this.#logger } : {}),
    });
  }

  /**
   * The config `client()` builds a client with: the session's credentials, region and logger under your own config.
   * Useful to build a client yourself (`new S3Client(session.clientConfig({ … }))`).
   */
  clientConfig<Config extends object>(config?: Config): Config & { credentials: RefreshableCredentials } {
    const base: Record<string, unknown> = { credentials: this.credentials };
    if (this.#region !== undefined) base.region = this.#region;
    if (this.#skew && this.#skew.samples > 0) base.systemClockOffset = this.#skew.offsetMs;
    if (this.#source.profile !== undefined) base.profile = this.#source.profile;
    if (this.#logger !== undefined) base.logger = this.#logger;
    return { ...base, ...config, credentials: this.credentials } as Config & { credentials: RefreshableCredentials };
  }

  /** The region the session's clients use, as the SDK resolves it; undefined when none is configured anywhere. */
  async region(): Promise<string | undefined> {
    if (this.#region !== undefined) return this.#region;
    try {
      return await this.client(STSClient).config.region();
    } catch {
      return undefined;
    }
  }

  /** Who the credentials belong to: STS GetCallerIdentity. */
  async whoami(): Promise<CallerIdentity> {
    const out = await this.client(STSClient).send(new GetCallerIdentityCommand({}));
    if (!out.Account || !out.Arn || !out.UserId) {
      throw new RefreshSessionError("SOURCE_FAILED", "STS GetCallerIdentity answered without Account, Arn or UserId", {
        source: this.credentials.sourceName,
      });
    }
    return { Account: out.Account, Arn: out.Arn, UserId: out.UserId };
  }

  /** The current credential, refreshed or waited for as the engine decides. */
  getCredentials(): Promise<AwsCredentialIdentity> {
    return this.credentials();
  }

  /** Force a refresh now (joins one in flight). */
  refresh(): Promise<AwsCredentialIdentity> {
    return this.credentials.refresh();
  }

  /** Predicted end of the underlying session (SSO session, MFA session) and what the prediction rests on. */
  async validUntil(): Promise<SessionEnd | undefined> {
    return this.#source.validUntil?.();
  }

  /** Facts the source reports about itself (e.g. an SSO token's expiry and cache permissions); empty when none. */
  async sourceStatus(): Promise<SourceStatusItem[]> {
    return (await this.#source.status?.()) ?? [];
  }

  /**
   * What the session's credentials come from, in words: the method's kind and a line such as
   * `profile ml: assume arn:aws:iam::123456789012:role/ml from profile base (static keys in ~/.aws/credentials)`.
   * A profile is read (once) to answer; its errors reject here as they would on the first request.
   */
  async describe(): Promise<SourceDescription> {
    return (await this.#source.describe?.()) ?? { kind: this.method, description: this.credentials.sourceName };
  }

  metrics(): SessionMetrics {
    return {
      ...this.credentials.metrics(),
      cachedClients: this.#cache?.size ?? 0,
      ...this.#counts,
      clockSkewMs: this.#skew?.offsetMs ?? 0,
    };
  }

  /** Subscribe to an engine event (`refresh`, `refresh-failed`, `expired`) or a session event; returns an unsubscriber. */
  on<E extends keyof SessionEvents>(event: E, listener: (payload: SessionEvents[E]) => void): () => void {
    if (ENGINE_EVENTS.has(event)) {
      return this.credentials.on(event as keyof RefreshableEvents, listener as never);
    }
    if (!SESSION_EVENTS.has(event)) {
      throw new TypeError(
        `Unknown event ${JSON.stringify(event)}; use ${[...ENGINE_EVENTS, ...SESSION_EVENTS].join(", ")}`,
      );
    }
    if (typeof listener !== "function") throw new TypeError("`listener` must be a function");
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Raise a session-level event. Used by the session's features; listeners that throw are logged, not propagated. */
  protected emit<E extends keyof SessionEvents>(event: E, payload: SessionEvents[E]): void {
    for (const fn of this.#listeners.get(event) ?? []) {
      try {
        (fn as (payload: SessionEvents[E]) => void)(payload);
      } catch (err) {
        this.#logger?.error(`aws-refresh-session: a "${event}" listener threw: ${String(err)}`);
      }
    }
  }

  /** Stop every timer and destroy the cached clients. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.credentials.close();
    this.#source.close?.();
    this.#cache?.clear();
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new RefreshSessionError("CLOSED", "This RefreshableSession was closed; create a new one", {
        source: this.credentials.sourceName,
      });
    }
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `RefreshableSession { method: ${JSON.stringify(this.method)}, source: ${JSON.stringify(this.credentials.sourceName)} }`;
  }
}
