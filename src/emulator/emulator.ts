// One file past ~400 lines: the request pipeline (signature check, faults, quotas, the caller's credential, dispatch
// to STS, S3 and the plug-ins) shares the server's credential table, clock offset, counters and log; the services
// themselves live in their own files.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { QueryParameterBag } from "@smithy/types";
import { faultFires, makeFault, type ActiveFault, type FaultSpec } from "./faults.js";
import { makeQuota, quotaAllows, throttlingAnswer, type ActiveQuota, type QuotaSpec } from "./quotas.js";
import { handleS3, s3Operation } from "./s3.js";
import { S3Store } from "./s3Store.js";
import {
  MalformedAuthError,
  readClaim,
  verifySignature,
  formatAmzDate,
  type ReceivedRequest,
  type SigV4Claim,
} from "./sigv4.js";
import { handleSts, stsOperation } from "./sts.js";
import type {
  Emulator,
  EmulatorOptions,
  EmulatorRequestContext,
  EmulatorService,
  KnownCredential,
  RecordedRequest,
} from "./types.js";
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
  if (o.quotas !== undefined && (o.quotas === null || typeof o.quotas !== "object")) {
    throw new TypeError("`quotas` must map operations to { rate, burst? }");
  }
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

/** How long before its issue an `expired` fault's credential expired. */
const EXPIRED_FAULT_AGE_MS = 60_000;

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
  const quotas = new Map<string, ActiveQuota>();
  const throttledCalls = new Map<string, number>();
  const checkOperation = (operation: string): void => {
    if (typeof operation !== "string" || !operation.includes(":")) {
      throw new TypeError('`operation` must look like "sts:AssumeRole" or "s3:PutObject"');
    }
  };
  const setQuota = (operation: string, spec: QuotaSpec): (() => void) => {
    checkOperation(operation);
    const q = makeQuota(spec, now());
    quotas.set(operation, q);
    return () => void (quotas.get(operation) === q && quotas.delete(operation));
  };
  for (const [operation, spec] of Object.entries(options.quotas ?? {})) setQuota(operation, spec);
  const log: RecordedRequest[] = [];
  const services: EmulatorService[] = [];
  const s3 = new S3Store();
  const sockets = new Set<Socket>();
  const attached = new Set<Server | HttpsServer>();
  // Per request, so an `expired` fault on one operation never leaks into calls answered concurrently.
  const issuing = new AsyncLocalStorage<{ expired: boolean }>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };

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
      expiration: issuing.getStore()?.expired
        ? Math.floor((now() - EXPIRED_FAULT_AGE_MS) / 1000) * 1000
        : Math.ceil((now() + lifetime * 1000) / 1000) * 1000,
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
      checkOperation(operation);
      const f = makeFault(spec);
      let set = faults.get(operation);
      if (!set) faults.set(operation, (set = new Set()));
      set.add(f);
      return () => void set.delete(f);
    },
    clearFaults: () => faults.clear(),
    quota: setQuota,
    clearQuotas: () => quotas.clear(),
    throttled: (operation?: string) =>
      operation === undefined
        ? [...throttledCalls.values()].reduce((a, b) => a + b, 0)
        : (throttledCalls.get(operation) ?? 0),
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
    attach(extra: Server | HttpsServer) {
      if (!extra || typeof extra.on !== "function") throw new TypeError("`server` must be an http(s) server");
      extra.on("request", listener);
      extra.on("connection", track);
      attached.add(extra);
    },
    async close() {
      await Promise.all(
        [server, ...attached].map(
          (srv) =>
            new Promise<void>((resolve) => {
              if (!srv.listening) return resolve();
              srv.close(() => resolve());
              for (const s of sockets) s.destroy();
            }),
        ),
      );
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

    let issueExpired = false;
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
      if (f.spec.expired) issueExpired = true;
    }

    const quota = quotas.get(operation);
    if (quota && !quotaAllows(quota, now())) {
      throttledCalls.set(operation, (throttledCalls.get(operation) ?? 0) + 1);
      const t = throttlingAnswer(operation);
      sendError(t.status, t.code, t.message);
      return;
    }

    // A plug-in that matched an unparsable Authorization (IAM Roles Anywhere's AWS4-X509-*) verifies it itself.
    if (malformed && !plugin) {
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
    await issuing.run({ expired: issueExpired }, async () => {
      if (plugin) await plugin.handle(ctx);
      else if (stsLike) handleSts(ctx, form ?? new URLSearchParams(), lifetimeSeconds);
      else handleS3(ctx, s3);
    });
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("emulator internal error");
    });
  };
  const server: Server = createServer(listener);
  server.keepAliveTimeout = 5_000;
  server.on("connection", track);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  Object.assign(emulator, { url: `http://${host}:${addr.port}`, port: addr.port });
  return emulator;
}
