import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Logger } from "@smithy/types";
import { Registry } from "prom-client";
import { errorMessage } from "../errors.js";
import { isRefreshable, refreshable } from "../refresh/refreshable.js";
import type { RefreshableCredentials } from "../refresh/types.js";
import { RefreshableSession } from "../session/RefreshableSession.js";
import { isLoopbackAddress, isLoopbackHost } from "./loopback.js";
import { createServerMetrics } from "./serverMetrics.js";
import { generateToken, tokenMatcher } from "./token.js";

/**
 * Background refresh starts this long before expiry for credentials the server hands to other programs (clamped to
 * half the issued lifetime). It must exceed the longest refresh window of the programs' own SDKs (botocore's advisory
 * window is 15 minutes) so that when a child comes back for a new credential the server already holds one.
 */
export const DEFAULT_SERVER_ADVISORY_MS = 30 * 60_000;
/** Callers wait for a refresh this long before expiry (clamped to a quarter of the issued lifetime). */
export const DEFAULT_SERVER_MANDATORY_MS = 20 * 60_000;
/**
 * Credentials that never expire (long-term keys) are served with an `Expiration` this far ahead, because the
 * container-credentials protocol requires one; the child asks again before then and gets the same keys.
 */
export const DEFAULT_STATIC_LIFETIME_MS = 60 * 60_000;
/** Longest request target the server reads; anything longer is refused with 414. */
const MAX_URL_LENGTH = 2048;
/** Largest request head (request line and headers); Node answers 431 beyond it. */
const MAX_HEADER_BYTES = 8192;
/** How long `close()` lets requests in flight finish before cutting their connections. */
const CLOSE_GRACE_MS = 5_000;

/** What the server can serve under a profile name: a session, an engine, or any SDK credential provider. */
export type ServedCredentials = RefreshableSession | RefreshableCredentials | AwsCredentialIdentityProvider;

/** Options of {@link startCredentialServer}. */
export interface CredentialServerOptions {
  /**
   * Served at `/profiles/<name>`. Sessions and engines are used as they are; a plain provider is wrapped in an engine
   * with {@link DEFAULT_SERVER_ADVISORY_MS} / {@link DEFAULT_SERVER_MANDATORY_MS} windows, closed with the server.
   */
  profiles: Record<string, ServedCredentials>;
  /** Loopback address to listen on: `127.0.0.1` (default), another 127.x address or `::1`. Others are refused. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** The bearer token callers must send as `Authorization`. Default: a new random 256-bit token. */
  token?: string;
  /** `Expiration` stated for credentials that never expire. Default {@link DEFAULT_STATIC_LIFETIME_MS}. */
  staticLifetimeMs?: number;
  /** Prometheus registry for `/metrics`. Default: a registry of the server's own. */
  registry?: Registry;
  /** The SDK's Logger interface, for failures to serve. Default: silent. Never receives the token or a secret. */
  logger?: Logger;
}

/** Counters of a running server. */
export interface CredentialServerStats {
  /** Credential requests answered 200, per profile. */
  served: Record<string, number>;
  /** Every answered request, per HTTP status. */
  byStatus: Record<string, number>;
}

/** A running credential server. */
export interface CredentialServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The bearer token. Pass it to children through their environment or a 0600 file; never print it. */
  readonly token: string;
  /** The Prometheus registry behind `/metrics`. */
  readonly registry: Registry;
  /** The engine serving a profile. */
  engine(profile: string): RefreshableCredentials | undefined;
  /** The full credential URL of a profile: `AWS_CONTAINER_CREDENTIALS_FULL_URI`. */
  urlFor(profile: string): string;
  stats(): CredentialServerStats;
  /** Stops accepting connections, lets requests in flight finish (up to 5 s), closes engines it created. */
  close(): Promise<void>;
}

interface ErrorBody {
  Code: string;
  Message: string;
}

function engineOf(name: string, served: ServedCredentials, owned: RefreshableCredentials[]): RefreshableCredentials {
  if (served instanceof RefreshableSession) return served.credentials;
  if (isRefreshable(served)) return served;
  if (typeof served === "function") {
    const engine = refreshable(served as AwsCredentialIdentityProvider, {
      name,
      advisoryMs: DEFAULT_SERVER_ADVISORY_MS,
      mandatoryMs: DEFAULT_SERVER_MANDATORY_MS,
    });
    owned.push(engine);
    return engine;
  }
  throw new TypeError(
    `\`profiles.${name}\` must be a RefreshableSession, a refreshable() engine or a credential provider function`,
  );
}

function validate(options: CredentialServerOptions): void {
  if (options === null || typeof options !== "object") throw new TypeError("`options` must be an object");
  const p = options.profiles;
  if (p === null || typeof p !== "object" || Object.keys(p).length === 0) {
    throw new TypeError("`profiles` must map at least one profile name to credentials");
  }
  for (const name of Object.keys(p)) {
    if (name === "" || name.length > 256 || /[\s/\\]/.test(name)) {
      throw new TypeError(`\`profiles\` has an unusable name ${JSON.stringify(name)}: no spaces or slashes`);
    }
  }
  if (options.host !== undefined && !(typeof options.host === "string" && isLoopbackAddress(options.host))) {
    throw new RangeError(
      `\`host\` must be a loopback address (127.0.0.1, another 127.x.y.z, or ::1), got ${JSON.stringify(options.host)}: ` +
        "the server hands out credentials and must not be reachable from other machines",
    );
  }
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536)) {
    throw new RangeError(`\`port\` must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  if (options.token !== undefined) {
    if (typeof options.token !== "string" || options.token.length < 32 || /[^\x21-\x7e]/.test(options.token)) {
      throw new TypeError(
        "`token` must be at least 32 printable characters without spaces, CR or LF (use generateToken())",
      );
    }
  }
  const s = options.staticLifetimeMs;
  if (s !== undefined && !(typeof s === "number" && Number.isFinite(s) && s >= 60_000)) {
    throw new RangeError(`\`staticLifetimeMs\` must be a number of milliseconds >= 60000, got ${String(s)}`);
  }
  if (options.registry !== undefined && !(options.registry instanceof Registry)) {
    throw new TypeError("`registry` must be a prom-client Registry");
  }
}

/** ECS/EKS container-credentials JSON for one credential. */
function credentialsBody(c: AwsCredentialIdentity, staticLifetimeMs: number): Record<string, string> {
  const expiration = c.expiration ?? new Date(Date.now() + staticLifetimeMs);
  const body: Record<string, string> = {
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    // Every SDK requires the field; long-term keys have no token, and an empty one is not sent.
    Token: c.sessionToken ?? "",
    Expiration: expiration.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  if (c.accountId) body.AccountId = c.accountId;
  return body;
}

/**
 * Starts a container-credentials server on loopback: every AWS SDK and the AWS CLI fetch credentials from it when
 * `AWS_CONTAINER_CREDENTIALS_FULL_URI` points at `/profiles/<name>` and `AWS_CONTAINER_AUTHORIZATION_TOKEN` (or
 * `_TOKEN_FILE`) holds the token. Answers from each profile's engine, which refreshes in the background, so children
 * asking again and again never make it call the source more than once per rotation.
 *
 * Requests need the token in `Authorization` (compared in constant time), a loopback `Host` (no DNS rebinding), `GET`
 * and a small head without a body; anything else gets a 4xx and never a credential. `/healthz` answers without the
 * token (just `ok` or `unhealthy`; with the token, per-profile detail) and `/metrics` is Prometheus text.
 *
 * @example
 * ```ts
 * import { RefreshableSession, startCredentialServer, childEnvironment } from "aws-refresh-session";
 * const session = new RefreshableSession({ method: "sts", assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl" } });
 * const server = await startCredentialServer({ profiles: { etl: session } });
 * const env = childEnvironment(process.env, { url: server.urlFor("etl"), token: server.token });
 * // spawn("python", ["job.py"], { env, stdio: "inherit" }) … then:
 * await server.close();
 * ```
 */
export async function startCredentialServer(options: CredentialServerOptions): Promise<CredentialServer> {
  validate(options);
  const token = options.token ?? generateToken();
  const matchesToken = tokenMatcher(token);
  const staticLifetimeMs = options.staticLifetimeMs ?? DEFAULT_STATIC_LIFETIME_MS;
  const logger = options.logger;
  const owned: RefreshableCredentials[] = [];
  const engines = new Map<string, RefreshableCredentials>();
  for (const [name, served] of Object.entries(options.profiles)) engines.set(name, engineOf(name, served, owned));
  const metrics = createServerMetrics(options.registry ?? new Registry(), engines);
  const served: Record<string, number> = Object.fromEntries([...engines.keys()].map((k) => [k, 0]));
  const byStatus: Record<string, number> = {};
  const sockets = new Set<Socket>();

  const send = (
    res: ServerResponse,
    status: number,
    body: string,
    profile = "",
    headers: Record<string, string> = {},
  ): void => {
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    metrics.request(profile, status);
    res.writeHead(status, {
      "content-type": "application/json",
      "cache-control": "no-store",
      "content-length": String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(body);
  };
  const fail = (res: ServerResponse, status: number, e: ErrorBody, headers: Record<string, string> = {}): void =>
    send(res, status, JSON.stringify(e), "", headers);

  async function health(res: ServerResponse, detailed: boolean): Promise<void> {
    const now = Date.now();
    const profiles: Record<string, unknown> = {};
    let healthy = true;
    for (const [name, engine] of engines) {
      const m = engine.metrics();
      const valid = engine.peek() !== undefined;
      // Lazy profiles that were never asked are not unhealthy; profiles whose credential is gone are.
      if (!valid && (m.refreshes > 0 || m.refreshFailures > 0)) healthy = false;
      profiles[name] = {
        valid,
        expiresInSeconds: m.expiration ? Math.round((m.expiration.getTime() - now) / 1000) : null,
        refreshes: m.refreshes,
        refreshFailures: m.refreshFailures,
        timeouts: m.timeouts,
        lastError: m.lastError ? m.lastError.message : null,
      };
    }
    const status = healthy ? "ok" : "unhealthy";
    send(res, healthy ? 200 : 503, JSON.stringify(detailed ? { status, profiles } : { status }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopbackAddress(req.socket.remoteAddress ?? "")) {
      return fail(res, 403, { Code: "Forbidden", Message: "Only loopback clients are served" });
    }
    if (!isLoopbackHost(req.headers.host)) {
      return fail(res, 403, {
        Code: "InvalidHost",
        Message: "The Host header must name the loopback interface (127.0.0.1, [::1] or localhost)",
      });
    }
    if (req.method !== "GET") {
      return fail(res, 405, { Code: "MethodNotAllowed", Message: "Only GET is served" }, { allow: "GET" });
    }
    const target = req.url ?? "/";
    if (target.length > MAX_URL_LENGTH) {
      return fail(res, 414, { Code: "URITooLong", Message: `Request targets are limited to ${MAX_URL_LENGTH} bytes` });
    }
    const length = req.headers["content-length"];
    if ((length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined) {
      return fail(res, 413, { Code: "PayloadTooLarge", Message: "GET requests carry no body here" });
    }
    const path = target.split("?")[0] as string;
    const auth = req.headers.authorization;
    const badAuth = auth !== undefined && /[\r\n]/.test(auth);
    const authorized = auth !== undefined && !badAuth && matchesToken(auth);
    if (path === "/healthz") return health(res, authorized);
    if (auth === undefined || auth === "") {
      return fail(
        res,
        401,
        { Code: "MissingToken", Message: "Send the token in the Authorization header" },
        { "www-authenticate": 'Bearer realm="aws-refresh"' },
      );
    }
    if (badAuth) return fail(res, 400, { Code: "InvalidToken", Message: "The Authorization header holds CR or LF" });
    if (!authorized) return fail(res, 403, { Code: "InvalidToken", Message: "The token does not match" });
    if (path === "/metrics") {
      const text = await metrics.registry.metrics();
      byStatus[200] = (byStatus[200] ?? 0) + 1;
      metrics.request("", 200);
      res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" });
      res.end(text);
      return;
    }
    const m = /^\/profiles\/([^/]+)$/.exec(path);
    let name: string | undefined;
    try {
      name = m ? decodeURIComponent(m[1] as string) : undefined;
    } catch {
      name = undefined;
    }
    const engine = name === undefined ? undefined : engines.get(name);
    if (name === undefined || engine === undefined) {
      return fail(res, 404, {
        Code: "NotFound",
        Message: `No such path; credentials are served at ${[...engines.keys()].map((p) => `/profiles/${encodeURIComponent(p)}`).join(", ")}`,
      });
    }
    let identity: AwsCredentialIdentity;
    try {
      identity = await engine();
    } catch (err) {
      logger?.warn(`aws-refresh server: no credentials for profile "${name}": ${errorMessage(err)}`);
      return send(res, 503, JSON.stringify({ Code: "CredentialsUnavailable", Message: errorMessage(err) }), name);
    }
    served[name] = (served[name] ?? 0) + 1;
    send(res, 200, JSON.stringify(credentialsBody(identity, staticLifetimeMs)), name);
  }

  const server: Server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger?.error(`aws-refresh server: internal error: ${errorMessage(err)}`);
      if (!res.headersSent) fail(res, 500, { Code: "InternalError", Message: "internal error" });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${hostPart}:${addr.port}`;
  let closing: Promise<void> | undefined;

  const api: CredentialServer = {
    url,
    host: addr.address,
    port: addr.port,
    token,
    registry: metrics.registry,
    engine: (profile) => engines.get(profile),
    urlFor(profile: string) {
      if (!engines.has(profile)) throw new RangeError(`\`profile\` ${JSON.stringify(profile)} is not served here`);
      return `${url}/profiles/${encodeURIComponent(profile)}`;
    },
    stats: () => ({ served: { ...served }, byStatus: { ...byStatus } }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, CLOSE_GRACE_MS);
        cut.unref();
        server.close(() => {
          clearTimeout(cut);
          metrics.detach();
          for (const e of owned) e.close();
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
  Object.defineProperty(api, "token", { value: token, enumerable: false });
  Object.defineProperty(api, Symbol.for("nodejs.util.inspect.custom"), {
    value: () => `CredentialServer { url: ${JSON.stringify(url)}, profiles: ${JSON.stringify([...engines.keys()])} }`,
  });
  return api;
}
