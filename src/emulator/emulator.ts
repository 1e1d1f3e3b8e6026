import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { QueryParameterBag } from "@smithy/types";
import { faultFires, makeFault, type ActiveFault, type FaultSpec } from "./faults.js";
import { handleS3, s3Operation, S3Store } from "./s3.js";
import {
  MalformedAuthError,
  readClaim,
  verifySignature,
  formatAmzDate,
  type ReceivedRequest,
  type SigV4Claim,
} from "./sigv4.js";
import { handleSts, stsOperation } from "./sts.js";
import { sendJsonError, sendS3Error, sendStsError } from "./xml.js";

/** Long-term keys the emulator accepts unless told otherwise. Not secret: they only open this local emulator. */
export const DEFAULT_ROOT_CREDENTIALS = Object.freeze({
  accessKeyId: "AKIAEMULATORROOT0001",
  secretAccessKey: "emulator-root-secret-key-not-for-aws-0001",
});

/** Lifetime of credentials the emulator issues unless told otherwise. */
export const DEFAULT_EMULATOR_LIFETIME_SECONDS = 3600;
/** AWS rejects header-signed requests whose X-Amz-Date is more than 15 minutes off its clock. */
export const MAX_SKEW_MS = 15 * 60_000;
/** SigV4 presigned URLs cannot live longer than 7 days. */
export const MAX_PRESIGN_SECONDS = 604_800;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default us-east-1. */
  region?: string;
  /** Default 123456789012. */
  accountId?: string;
  /** Lifetime of issued credentials in seconds (>= 1), whatever DurationSeconds asked. Default 3600. */
  credentialLifetimeSeconds?: number;
  /** Long-term keys the emulator accepts. Default {@link DEFAULT_ROOT_CREDENTIALS}. */
  rootCredentials?: { accessKeyId: string; secretAccessKey: string };
  /** The server's clock runs this far ahead of (or, negative, behind) the local clock. Default 0. */
  clockOffsetMs?: number;
}

/** A credential the emulator knows. Internal, but handed to service plug-ins. */
export interface KnownCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
  /** Epoch ms; undefined for long-term keys. */
  expiration: number | undefined;
  kind: string;
  arn: string;
  userId: string;
  revoked: boolean;
  /** Whether the session was created with MFA. */
  mfa: boolean;
}

/** A request as the emulator saw it; kept for tests (the last 1000). Holds no secret. */
export interface RecordedRequest {
  operation: string;
  accessKeyId: string | undefined;
  /** Form or query parameters, with secrets (tokens, codes) removed. */
  params: Record<string, string>;
  at: Date;
  status?: number;
}

/** What a service plug-in gets for each request. */
export interface EmulatorRequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: Buffer;
  headers: Record<string, string>;
  query: QueryParameterBag;
  operation: string;
  /** The verified caller, for signed requests. */
  caller: KnownCredential | undefined;
  /** The server's clock (local clock plus offset). */
  now(): number;
  emulator: Emulator;
}

/** A service plugged into the emulator (the SSO-OIDC and SSO portal use this). */
export interface EmulatorService {
  name: string;
  /** Whether an unsigned request belongs to this service. */
  match(req: IncomingMessage, url: URL): boolean;
  /** Name of the operation, e.g. "CreateToken" (counted as `<name>:<operation>`). */
  operation(req: IncomingMessage, url: URL, body: Buffer): string;
  handle(ctx: EmulatorRequestContext): Promise<void> | void;
  /** Error format for injected faults. Default: JSON with `x-amzn-errortype`. */
  sendError?(res: ServerResponse, status: number, code: string, message: string): void;
}

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:PORT`: point `endpoint`, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_<SERVICE>` here. */
  readonly url: string;
  readonly port: number;
  readonly region: string;
  readonly accountId: string;
  readonly rootCredentials: { accessKeyId: string; secretAccessKey: string };
  /** Lifetime of credentials issued from now on, in seconds (>= 1). */
  setCredentialLifetime(seconds: number): void;
  credentialLifetimeSeconds(): number;
  setClockOffset(ms: number): void;
  /** The server's clock, epoch ms. */
  now(): number;
  /**
   * Make a credential dead before its stated expiry: later requests signed with it (presigned URLs included) get the
   * answer AWS gives for an expired token (`ExpiredToken`, 400, in STS's or S3's format). Returns whether the key was
   * known.
   */
  revoke(accessKeyId: string): boolean;
  /** Inject a fault into an operation such as "sts:AssumeRole" or "s3:PutObject"; returns a function removing it. */
  fault(operation: string, spec: FaultSpec): () => void;
  clearFaults(): void;
  /** Calls per operation ("sts:AssumeRole"); all calls without an argument. */
  calls(operation?: string): number;
  resetCalls(): void;
  /** Credentials issued so far (no secrets). */
  issued(): { accessKeyId: string; expiration: Date; kind: string; arn: string }[];
  /** Requests seen (the last 1000), optionally for one operation. */
  requests(operation?: string): RecordedRequest[];
  /** Issue a credential directly (for service plug-ins such as the SSO portal). */
  issueCredential(kind: string, arn: string, userId: string, lifetimeSeconds?: number, mfa?: boolean): KnownCredential;
  /** Look up a credential by access key id. */
  credential(accessKeyId: string): KnownCredential | undefined;
  addService(service: EmulatorService): void;
  /** The S3 store (buckets and objects), for tests. */
  readonly s3: S3Store;
  close(): Promise<void>;
}

function validateOptions(o: EmulatorOptions): void {
  if (o.credentialLifetimeSeconds !== undefined && !(o.credentialLifetimeSeconds >= 1)) {
    throw new RangeError("`credentialLifetimeSeconds` must be >= 1");
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port < 65536)) {
    throw new RangeError("`port` must be an integer from 0 to 65535");
  }
  if (o.clockOffsetMs !== undefined && !Number.isFinite(o.clockOffsetMs)) {
    throw new RangeError("`clockOffsetMs` must be a finite number");
  }
  if (o.accountId !== undefined && !/^[0-9]{12}$/.test(o.accountId))
    throw new TypeError("`accountId` must be 12 digits");
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseQuery(search: URLSearchParams): QueryParameterBag {
  const q: QueryParameterBag = {};
  for (const [k, v] of search) {
    const prev = q[k];
    if (prev === undefined) q[k] = v;
    else q[k] = Array.isArray(prev) ? [...prev, v] : [prev as string, v];
  }
  return q;
}

/** A time as S3 writes it in error bodies: ISO 8601 to the second, `2026-01-01T00:00:00Z`. */
function isoSeconds(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

const SECRET_PARAMS = new Set(["WebIdentityToken", "TokenCode", "X-Amz-Security-Token", "X-Amz-Signature"]);

/**
 * Starts a local STS + S3 endpoint that issues short-lived credentials, verifies every SigV4 signature and answers
 * with AWS's own error codes, statuses and bodies. Resolves once it listens.
 *
 * @example
 * ```ts
 * import { startEmulator } from "aws-refresh-session/testing";
 * const emu = await startEmulator({ credentialLifetimeSeconds: 5 });
 * process.env.AWS_ENDPOINT_URL = emu.url;
 * // … run the job; every 5 s its credentials expire
 * emu.fault("sts:AssumeRole", { error: { code: "Throttling", status: 400 }, every: 2 });
 * await emu.close();
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  validateOptions(options);
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? "123456789012";
  const root = options.rootCredentials ?? { ...DEFAULT_ROOT_CREDENTIALS };
  let lifetimeSeconds = options.credentialLifetimeSeconds ?? DEFAULT_EMULATOR_LIFETIME_SECONDS;
  let clockOffsetMs = options.clockOffsetMs ?? 0;
  const now = (): number => Date.now() + clockOffsetMs;
  const known = new Map<string, KnownCredential>();
  known.set(root.accessKeyId, {
    ...root,
    sessionToken: undefined,
    expiration: undefined,
    kind: "root",
    arn: `arn:aws:iam::${accountId}:user/emulator`,
    userId: "AIDAEMULATORUSER0001",
    revoked: false,
    mfa: false,
  });
  const counters = new Map<string, number>();
  let total = 0;
  const faults = new Map<string, Set<ActiveFault>>();
  const log: RecordedRequest[] = [];
  const services: EmulatorService[] = [];
  const s3 = new S3Store();
  const sockets = new Set<Socket>();

  const issueCredential = (
    kind: string,
    arn: string,
    userId: string,
    lifetime: number = lifetimeSeconds,
    mfa = false,
  ): KnownCredential => {
    const id = `ASIA${randomBytes(8).toString("hex").toUpperCase()}`;
    const cred: KnownCredential = {
      accessKeyId: id,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: `IQoJb3JpZ2luX2VtdWxhdG9y${randomBytes(96).toString("base64")}`,
      // Whole seconds, as AWS states them, rounded up so a credential never lives less than asked.
      expiration: Math.ceil((now() + lifetime * 1000) / 1000) * 1000,
      kind,
      arn,
      userId,
      revoked: false,
      mfa,
    };
    known.set(id, cred);
    return cred;
  };

  const emulator: Emulator = {
    url: "",
    port: 0,
    region,
    accountId,
    rootCredentials: { ...root },
    s3,
    setCredentialLifetime(seconds: number) {
      if (!(seconds >= 1)) throw new RangeError("`seconds` must be >= 1");
      lifetimeSeconds = seconds;
    },
    credentialLifetimeSeconds: () => lifetimeSeconds,
    setClockOffset(ms: number) {
      if (!Number.isFinite(ms)) throw new RangeError("`ms` must be a finite number");
      clockOffsetMs = ms;
    },
    now,
    revoke(accessKeyId: string) {
      if (typeof accessKeyId !== "string") throw new TypeError("`accessKeyId` must be a string");
      const c = known.get(accessKeyId);
      if (c) c.revoked = true;
      return c !== undefined;
    },
    fault(operation: string, spec: FaultSpec) {
      if (typeof operation !== "string" || !operation.includes(":")) {
        throw new TypeError('`operation` must look like "sts:AssumeRole" or "s3:PutObject"');
      }
      const f = makeFault(spec);
      let set = faults.get(operation);
      if (!set) faults.set(operation, (set = new Set()));
      set.add(f);
      return () => void set.delete(f);
    },
    clearFaults: () => faults.clear(),
    calls: (operation?: string) => (operation === undefined ? total : (counters.get(operation) ?? 0)),
    resetCalls() {
      counters.clear();
      total = 0;
    },
    issued: () =>
      [...known.values()]
        .filter((c) => c.expiration !== undefined)
        .map((c) => ({
          accessKeyId: c.accessKeyId,
          expiration: new Date(c.expiration as number),
          kind: c.kind,
          arn: c.arn,
        })),
    requests: (operation?: string) =>
      operation === undefined ? [...log] : log.filter((r) => r.operation === operation),
    issueCredential,
    credential: (id: string) => known.get(id),
    addService(service: EmulatorService) {
      if (!service || typeof service.match !== "function" || typeof service.handle !== "function") {
        throw new TypeError("`service` must have `name`, `match`, `operation` and `handle`");
      }
      services.push(service);
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://emulator.local");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      res.writeHead(413).end();
      return;
    }
    const query = parseQuery(url.searchParams);
    const received: ReceivedRequest = { method: req.method ?? "GET", path: url.pathname, query, headers, body };

    let claim: SigV4Claim | undefined;
    let malformed: string | undefined;
    try {
      claim = readClaim(received);
    } catch (err) {
      if (!(err instanceof MalformedAuthError)) throw err;
      malformed = err.message;
    }
    const form = headers["content-type"]?.startsWith("application/x-www-form-urlencoded")
      ? new URLSearchParams(body.toString("utf8"))
      : undefined;
    const plugin = claim ? undefined : services.find((s) => s.match(req, url));
    const serviceName =
      claim?.service ?? plugin?.name ?? (form?.has("Action") ? "sts" : req.method === "POST" ? "sts" : "s3");
    const stsLike = serviceName === "sts";
    const sendError = (status: number, code: string, message: string, extra: Record<string, string> = {}): void => {
      if (plugin) (plugin.sendError ?? sendJsonError)(res, status, code, message);
      else if (stsLike) sendStsError(res, status, code, message);
      else sendS3Error(res, status, code, message, extra, req.method);
    };

    const operation = plugin
      ? `${plugin.name}:${plugin.operation(req, url, body)}`
      : stsLike
        ? `sts:${stsOperation(form, url)}`
        : `s3:${s3Operation(received)}`;
    counters.set(operation, (counters.get(operation) ?? 0) + 1);
    total++;
    const params: Record<string, string> = {};
    for (const [k, v] of form ?? url.searchParams) if (!SECRET_PARAMS.has(k)) params[k] = v;
    const record: RecordedRequest = { operation, accessKeyId: claim?.accessKeyId, params, at: new Date(now()) };
    log.push(record);
    if (log.length > 1000) log.shift();
    res.setHeader("date", new Date(now()).toUTCString());
    res.on("finish", () => (record.status = res.statusCode));

    for (const f of faults.get(operation) ?? []) {
      if (!faultFires(f)) continue;
      if (f.spec.times !== undefined && f.fired >= f.spec.times) faults.get(operation)?.delete(f);
      if (f.spec.latencyMs) await new Promise((r) => setTimeout(r, f.spec.latencyMs));
      if (f.spec.reset) {
        req.socket.destroy();
        return;
      }
      if (f.spec.malformed) {
        res.writeHead(200, { "content-type": stsLike || !plugin ? "text/xml" : "application/json" });
        res.end("<<<not what the protocol promised>>>");
        return;
      }
      if (f.spec.error) {
        sendError(
          f.spec.error.status,
          f.spec.error.code,
          f.spec.error.message ?? `Injected fault: ${f.spec.error.code}`,
        );
        return;
      }
    }

    if (malformed) {
      if (stsLike) sendStsError(res, 400, "IncompleteSignature", malformed);
      else sendS3Error(res, 400, "AuthorizationQueryParametersError", malformed, {}, req.method);
      return;
    }

    let caller: KnownCredential | undefined;
    if (claim) {
      const t = now();
      if (claim.presigned) {
        const rawExpires = query["X-Amz-Expires"];
        const expiresProblem =
          rawExpires === undefined
            ? "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            : claim.expiresIn === undefined || !Number.isInteger(claim.expiresIn)
              ? "X-Amz-Expires should be a number"
              : claim.expiresIn < 0
                ? "X-Amz-Expires must be non-negative"
                : claim.expiresIn > MAX_PRESIGN_SECONDS
                  ? `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_SECONDS}`
                  : undefined;
        if (expiresProblem !== undefined) {
          sendError(400, "AuthorizationQueryParametersError", expiresProblem);
          return;
        }
        const expiresIn = claim.expiresIn as number;
        if (Number.isFinite(claim.signedAt) && claim.signedAt - t > MAX_SKEW_MS) {
          // Signed by a clock more than 15 minutes ahead: S3 will not honour it yet.
          sendError(403, "AccessDenied", "Request is not yet valid", {
            "X-Amz-Date": claim.amzDate,
            ServerTime: isoSeconds(t),
          });
          return;
        }
        if (!Number.isFinite(claim.signedAt) || t > claim.signedAt + expiresIn * 1000) {
          sendError(403, "AccessDenied", "Request has expired", {
            "X-Amz-Expires": String(expiresIn),
            Expires: isoSeconds(claim.signedAt + expiresIn * 1000),
            ServerTime: isoSeconds(t),
          });
          return;
        }
      } else if (!Number.isFinite(claim.signedAt) || Math.abs(t - claim.signedAt) > MAX_SKEW_MS) {
        if (stsLike) {
          const ahead = claim.signedAt > t;
          const bound = formatAmzDate(ahead ? t + MAX_SKEW_MS : t - MAX_SKEW_MS);
          sendStsError(
            res,
            403,
            "SignatureDoesNotMatch",
            ahead
              ? `Signature not yet current: ${claim.amzDate} is still later than ${bound} (${formatAmzDate(t)} + 15 min.)`
              : `Signature expired: ${claim.amzDate} is now earlier than ${bound} (${formatAmzDate(t)} - 15 min.)`,
          );
        } else {
          sendS3Error(
            res,
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            {
              RequestTime: claim.amzDate,
              ServerTime: isoSeconds(t),
              MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
            },
            req.method,
          );
        }
        return;
      }
      const cred = known.get(claim.accessKeyId);
      if (!cred) {
        if (stsLike)
          sendStsError(res, 403, "InvalidClientTokenId", "The security token included in the request is invalid.");
        else
          sendS3Error(
            res,
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            {
              AWSAccessKeyId: claim.accessKeyId,
            },
            req.method,
          );
        return;
      }
      if (cred.sessionToken !== undefined && claim.sessionToken !== cred.sessionToken) {
        if (stsLike)
          sendStsError(res, 403, "InvalidClientTokenId", "The security token included in the request is invalid.");
        else
          sendS3Error(
            res,
            400,
            "InvalidToken",
            "The provided token is malformed or otherwise invalid.",
            {},
            req.method,
          );
        return;
      }
      if (cred.revoked || (cred.expiration !== undefined && t >= cred.expiration)) {
        if (stsLike) sendStsError(res, 400, "ExpiredToken", "The security token included in the request is expired");
        else sendS3Error(res, 400, "ExpiredToken", "The provided token has expired.", {}, req.method);
        return;
      }
      if (!(await verifySignature(received, claim, cred.secretAccessKey))) {
        if (stsLike) {
          sendStsError(
            res,
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
          );
        } else {
          sendS3Error(
            res,
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            { AWSAccessKeyId: claim.accessKeyId },
            req.method,
          );
        }
        return;
      }
      caller = cred;
    }

    const ctx: EmulatorRequestContext = {
      req,
      res,
      url,
      body,
      headers,
      query,
      operation: operation.slice(operation.indexOf(":") + 1),
      caller,
      now,
      emulator,
    };
    if (plugin) await plugin.handle(ctx);
    else if (stsLike) handleSts(ctx, form ?? new URLSearchParams(), lifetimeSeconds);
    else handleS3(ctx, s3);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("emulator internal error");
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  Object.assign(emulator, { url: `http://${host}:${addr.port}`, port: addr.port });
  return emulator;
}
