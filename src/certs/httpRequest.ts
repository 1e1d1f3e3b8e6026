import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** One HTTP exchange, as the certificate sources make them (no retries: the refresh engine retries). */
export interface HttpExchange {
  url: URL;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  /** Deadline of the whole exchange (connect, TLS handshake, answer). */
  timeoutMs: number;
  /** Client certificate (mutual TLS) and trust: PEM text; never logged. */
  tls?: { cert?: string; key?: import("node:crypto").KeyObject; ca?: string };
}

/** What came back. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A network-level failure (connect, TLS, timeout): retryable by the engine. `code` is Node's or `ETIMEDOUT`. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MAX_BODY = 1024 * 1024;

/** Makes one request over http: or https: (optionally with a client certificate) within a deadline. */
export function exchange(x: HttpExchange): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const secure = x.url.protocol === "https:";
    const options = {
      method: x.method,
      hostname: x.url.hostname.replace(/^\[|\]$/g, ""),
      port: x.url.port || (secure ? 443 : 80),
      path: `${x.url.pathname}${x.url.search}`,
      headers: {
        ...x.headers,
        ...(x.body !== undefined ? { "content-length": String(Buffer.byteLength(x.body)) } : {}),
      },
      agent: false as const,
      ...(secure
        ? {
            servername: /^[\d.]+$|:/.test(x.url.hostname) ? undefined : x.url.hostname,
            ...(x.tls?.cert !== undefined ? { cert: x.tls.cert } : {}),
            // In memory only, for this one connection: Node's TLS takes the key as PEM.
            ...(x.tls?.key !== undefined ? { key: x.tls.key.export({ type: "pkcs8", format: "pem" }) } : {}),
            ...(x.tls?.ca !== undefined ? { ca: x.tls.ca } : {}),
          }
        : {}),
    };
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) fail(new TransportError(`the answer from ${x.url.host} is larger than 1 MiB`, "EMSGSIZE"));
        else chunks.push(c);
      });
      res.on("error", (err) =>
        fail(new TransportError(err.message, (err as NodeJS.ErrnoException).code, { cause: err })),
      );
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    const timer = setTimeout(
      () => fail(new TransportError(`no answer from ${x.url.host} within ${x.timeoutMs} ms`, "ETIMEDOUT")),
      x.timeoutMs,
    );
    req.on("error", (err) =>
      fail(new TransportError(err.message, (err as NodeJS.ErrnoException).code, { cause: err })),
    );
    req.end(x.body);
  });
}

/** Error types by which AWS services say "slow down", whatever the HTTP status (most JSON services use 400). */
const THROTTLING_TYPES = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
]);

/**
 * When `answer` is a throttling refusal (HTTP 429, or a throttling error type in `x-amzn-errortype` or the JSON
 * body's `__type`/`code`), an error the SDK's retry classification calls throttling, to use as a `cause`; otherwise
 * undefined. A throttled call is retried with backoff; it is never a configuration mistake.
 *
 * @example
 * ```ts
 * const cause = throttlingCause({ status: 400, headers: { "x-amzn-errortype": "ThrottlingException" }, body: "{}" });
 * // cause?.name === "ThrottlingException"
 * ```
 */
export function throttlingCause(answer: HttpAnswer): Error | undefined {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(answer.body);
    if (parsed !== null && typeof parsed === "object") body = parsed as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  const raw = answer.headers["x-amzn-errortype"] ?? body.__type ?? body.code ?? body.Code;
  const type = typeof raw === "string" ? (raw.split(":")[0]?.split("#").pop() ?? raw) : undefined;
  if (answer.status !== 429 && !(type !== undefined && THROTTLING_TYPES.has(type))) return undefined;
  const name = type !== undefined && THROTTLING_TYPES.has(type) ? type : "TooManyRequestsException";
  return Object.assign(new Error(`${name} (HTTP ${answer.status})`), {
    name,
    $metadata: { httpStatusCode: answer.status },
  });
}
