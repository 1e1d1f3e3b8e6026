import type * as Crt from "aws-crt";
import { RefreshSessionError } from "../errors.js";
import type { HttpAnswer } from "./httpRequest.js";
import { TransportError } from "./httpRequest.js";
import { describePkcs11, type Pkcs11Object } from "./pkcs11Options.js";
import { readPin } from "./pkcs11Token.js";

/**
 * Mutual TLS with a private key that stays in a PKCS#11 token, through `aws-crt` (the AWS Common Runtime): Node's own
 * TLS needs the key in memory and cannot sign the handshake through a callback, while aws-crt's TLS stack (s2n) hands
 * the handshake signature to the token. It ships its native module inside the npm package (nothing to compile) and is
 * what AWS's own IoT device SDKs use. Optional: loaded only when an IoT source has a `pkcs11` key.
 */

type CrtModule = typeof Crt;
type Context = { source: string; profile?: string };

/** The npm package that does mutual TLS with a PKCS#11 key (AWS IoT). */
export const AWS_CRT_PACKAGE = "aws-crt";

let loading: Promise<CrtModule> | undefined;
const libs = new Map<string, Crt.io.Pkcs11Lib>();

/** Loads `aws-crt`, or says which package to install. */
export async function loadAwsCrt(context: Context): Promise<CrtModule> {
  // aws-crt warns on stderr, once per process, that it will need Node 22 from 2027; a library must not write to
  // stderr, and the warning says nothing about this process's credentials.
  process.env.AWS_CRT_NODEJS_SUPPRESS_NODE_DEPRECATION_WARNING ??= "true";
  loading ??= import(AWS_CRT_PACKAGE).then((m: CrtModule & { default?: CrtModule }) => m.default ?? m);
  try {
    return await loading;
  } catch (err) {
    loading = undefined;
    throw new RefreshSessionError(
      "PKCS11_FAILED",
      `"${context.source}" uses a PKCS#11 key for mutual TLS, which needs the optional package ${AWS_CRT_PACKAGE}: ` +
        `run \`npm install ${AWS_CRT_PACKAGE}\` (it ships its native module; nothing to compile).`,
      { ...context, cause: err },
    );
  }
}

/** One GET over mutual TLS whose handshake the token signs. */
export interface Pkcs11TlsGet {
  url: URL;
  headers: Record<string, string>;
  /** The client certificate (PEM; a chain may follow the leaf). */
  certificate: string;
  key: Pkcs11Object;
  /** Trust anchors of the server (PEM). Default: the system's. */
  ca?: string;
  timeoutMs: number;
}

/** aws-crt's error names for a wrong or locked PIN. */
const PIN_ERRORS = /CKR_PIN_INCORRECT|CKR_PIN_LEN_RANGE|CKR_PIN_LOCKED|CKR_PIN_EXPIRED/;

/**
 * Makes the GET. A TLS context is built for each call, so the certificate (and the PIN file) read at this refresh
 * are the ones used; the token's module is loaded once per process.
 */
export async function pkcs11TlsGet(x: Pkcs11TlsGet, context: Context): Promise<HttpAnswer> {
  const crt = await loadAwsCrt(context);
  const { io, http } = crt;
  const pin = await readPin(x.key, context);
  let lib = libs.get(x.key.module);
  if (!lib) {
    try {
      lib = new io.Pkcs11Lib(x.key.module);
    } catch (err) {
      throw new RefreshSessionError(
        "PKCS11_FAILED",
        `Cannot load the PKCS#11 module ${x.key.module} for "${context.source}": ${(err as Error).message}`,
        { ...context, cause: err },
      );
    }
    libs.set(x.key.module, lib);
  }
  let tlsContext: Crt.io.ClientTlsContext;
  try {
    const options = io.TlsContextOptions.create_client_with_mtls_pkcs11({
      pkcs11_lib: lib,
      user_pin: pin ?? null,
      ...(x.key.slot !== undefined ? { slot_id: x.key.slot } : {}),
      ...(x.key.tokenLabel !== undefined ? { token_label: x.key.tokenLabel } : {}),
      ...(x.key.label !== undefined ? { private_key_object_label: x.key.label } : {}),
      cert_file_contents: x.certificate,
    });
    if (x.ca !== undefined) options.override_default_trust_store(x.ca);
    tlsContext = new io.ClientTlsContext(options);
  } catch (err) {
    const text = `${(err as { code?: string }).code ?? ""} ${(err as Error).message}`;
    if (PIN_ERRORS.test(text)) {
      const locked = /LOCKED|EXPIRED/.test(text);
      throw new RefreshSessionError(
        "PKCS11_PIN_INCORRECT",
        `The PIN of ${describePkcs11(x.key)} is ${locked ? "locked or expired" : "wrong"} for "${context.source}". ` +
          (locked
            ? "Unlock or reset it with the token's administration tool (SO PIN)."
            : "Check `pin` or the PIN file: tokens lock after a few wrong tries."),
        { ...context, cause: err },
      );
    }
    throw new RefreshSessionError(
      "PKCS11_FAILED",
      `PKCS#11 could not set up mutual TLS with ${describePkcs11(x.key)} for "${context.source}": ` +
        `${(err as Error).message}. Check the token label or slot, and the key's label.`,
      { ...context, cause: err },
    );
  }
  const host = x.url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(x.url.port || 443);
  const ip = /^[\d.]+$|:/.test(host);
  const tls = new io.TlsConnectionOptions(tlsContext, ip ? undefined : host);
  const domain = host.includes(":") ? io.SocketDomain.IPV6 : io.SocketDomain.IPV4;
  const socket = new io.SocketOptions(io.SocketType.STREAM, domain, x.timeoutMs);
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    let connection: Crt.http.HttpClientConnection | undefined;
    const done = (err: Error | undefined, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        connection?.close();
      } catch {
        /* closed already */
      }
      if (err) reject(err);
      else resolve(answer as HttpAnswer);
    };
    const timer = setTimeout(
      () => done(new TransportError(`no answer from ${x.url.host} within ${x.timeoutMs} ms`, "ETIMEDOUT")),
      x.timeoutMs,
    );
    const transportError = (err: unknown): TransportError =>
      new TransportError(`${(err as Error).message ?? String(err)}`, (err as { error_name?: string }).error_name, {
        cause: err,
      });
    try {
      connection = new http.HttpClientConnection(undefined, host, port, socket, tls);
    } catch (err) {
      done(transportError(err));
      return;
    }
    connection.on("error", (err: Error) => done(transportError(err)));
    connection.on("connect", () => {
      const headers = new http.HttpHeaders([["host", x.url.host], ...Object.entries(x.headers)]);
      const stream = (connection as Crt.http.HttpClientConnection).request(
        new http.HttpRequest("GET", `${x.url.pathname}${x.url.search}`, headers),
      );
      let status = 0;
      const responseHeaders: Record<string, string> = {};
      const chunks: Buffer[] = [];
      stream.on("response", (code: number, hs: Crt.http.HttpHeaders) => {
        status = code;
        for (const [k, v] of hs) responseHeaders[k.toLowerCase()] = v;
      });
      stream.on("data", (d: ArrayBuffer) => chunks.push(Buffer.from(d)));
      stream.on("error", (err: Error) => done(transportError(err)));
      stream.on("end", () =>
        done(undefined, { status, headers: responseHeaders, body: Buffer.concat(chunks).toString("utf8") }),
      );
      stream.activate();
    });
  });
}
