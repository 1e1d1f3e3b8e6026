import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import { readJsonCredential } from "../util/jsonCredential.js";
import { RefreshSessionError } from "../errors.js";
import { describeCertificate } from "../certs/certificate.js";
import { keyMismatch } from "../certs/privateKey.js";
import {
  loadMaterial,
  validateMaterial,
  type CertificateMaterial,
  type CertificateMaterialSpec,
} from "../certs/certificateMaterial.js";
import { CertificateWatch } from "../certs/certificateWatch.js";
import { exchange, throttlingCause, TransportError, type HttpAnswer } from "../certs/httpRequest.js";
import { describePemInput, readPemInput, validatePemInput } from "../certs/pemInput.js";
import type { Pkcs11KeyOptions } from "../certs/pkcs11Options.js";
import { pkcs11TlsGet } from "../certs/pkcs11Tls.js";
import type { CertificateSessionEnd, Clock, CredentialSource, SourceEmitter, SourceStatusItem } from "../types.js";

/** Deadline of one call to the IoT credentials endpoint (connect, TLS handshake, answer): 10 s. */
export const DEFAULT_IOT_TIMEOUT_MS = 10_000;

/** Options of {@link fromIotCertificate} (and of `new RefreshableSession({ method: "iot", … })`). */
export interface IotCertificateInit {
  /**
   * The account's credentials endpoint (`aws iot describe-endpoint --endpoint-type iot:CredentialProvider`), e.g.
   * `c1a2b3.credentials.iot.eu-west-1.amazonaws.com`, or a full `https://` URL (the emulator's).
   */
  endpoint: string;
  /** The role alias whose role the credentials are for. */
  roleAlias: string;
  /** Sent as `x-amzn-iot-thingname`: the thing attached to the certificate (for thing policy variables). */
  thingName?: string;
  /** The device certificate: a file path or PEM text (a chain may follow), read at every refresh. */
  certificate: string;
  /** Its private key: a file path or PEM text read at every refresh, or `{ pkcs11 }` (needs `aws-crt`). */
  privateKey: string | { pkcs11: Pkcs11KeyOptions };
  /** Passphrase of an encrypted PEM key. */
  passphrase?: string;
  /** Intermediate CA certificates (a path or PEM) presented after the certificate, read at every refresh. */
  intermediates?: string;
  /** Trust anchors for the endpoint's certificate (a path or PEM). Default: Node's (PEM keys) or the system's. */
  ca?: string;
  /** Region for the session's clients. Default: the one in the endpoint's host name, if any. */
  region?: string;
  /** Deadline of one call. Default 10000. */
  timeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
  /** Default `Date`. */
  clock?: Clock;
}

/** What {@link fromIotCertificate} returns: a credential source with its certificate's facts. */
export type IotCertificateSource = CredentialSource & {
  /** The endpoint as called. */
  readonly endpoint: URL;
  /** The region of the endpoint (or `region`), if known. */
  readonly region: string | undefined;
  /** When the certificate stops allowing credentials. */
  validUntil(): Promise<CertificateSessionEnd | undefined>;
  /** Facts for `aws-refresh status`: endpoint, role alias, certificate, key. */
  status(): Promise<SourceStatusItem[]>;
  /** Receives `certificate-expiring`. */
  bindEmitter(emit: SourceEmitter): void;
  close(): void;
};

const ROLE_ALIAS = /^[\w=,@-]{1,128}$/;
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const CREDENTIALS_HOST = /\.credentials\.iot\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

function endpointUrl(endpoint: unknown): URL {
  if (typeof endpoint !== "string" || endpoint.trim() === "") {
    throw new TypeError(
      "`endpoint` is required: the account's IoT credentials endpoint (`aws iot describe-endpoint --endpoint-type " +
        "iot:CredentialProvider`) or an https:// URL",
    );
  }
  if (/^http:\/\//i.test(endpoint)) {
    throw new TypeError("`endpoint` must be https://: the IoT credentials endpoint authenticates with mutual TLS");
  }
  let url: URL;
  try {
    url = new URL(/^https:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`);
  } catch {
    throw new TypeError(`\`endpoint\` is not a host name or URL: ${JSON.stringify(endpoint)}`);
  }
  if (/-ats\.iot\.|\.iot\.[a-z0-9-]+\.amazonaws\.com$/.test(url.hostname) && !CREDENTIALS_HOST.test(url.hostname)) {
    throw new TypeError(
      `\`endpoint\` ${url.hostname} is the IoT data (MQTT) endpoint, not the credentials endpoint: get that one with ` +
        "`aws iot describe-endpoint --endpoint-type iot:CredentialProvider`",
    );
  }
  return url;
}

function validate(init: IotCertificateInit): { url: URL; spec: CertificateMaterialSpec } {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object");
  const url = endpointUrl(init.endpoint);
  if (typeof init.roleAlias !== "string" || !ROLE_ALIAS.test(init.roleAlias)) {
    throw new TypeError(
      `\`roleAlias\` must be an IoT role alias (1 to 128 of letters, digits and _=,@-), got ${JSON.stringify(init.roleAlias)}`,
    );
  }
  if (init.thingName !== undefined && (typeof init.thingName !== "string" || !THING_NAME.test(init.thingName))) {
    throw new TypeError(
      `\`thingName\` must be a thing name (1 to 128 of letters, digits and :_-), got ${JSON.stringify(init.thingName)}`,
    );
  }
  if (init.ca !== undefined) validatePemInput("ca", init.ca);
  if (init.region !== undefined && (typeof init.region !== "string" || init.region === "")) {
    throw new TypeError("`region` must be a non-empty string");
  }
  if (init.timeoutMs !== undefined && !(Number.isFinite(init.timeoutMs) && init.timeoutMs > 0)) {
    throw new RangeError("`timeoutMs` must be a positive number of milliseconds");
  }
  if (init.clock !== undefined && typeof init.clock?.now !== "function") {
    throw new TypeError("`clock` must be an object with a `now()` method");
  }
  const spec = validateMaterial(init, { pkcs11Certificate: false, pkcs11KeyId: false });
  return { url, spec };
}

/** The message AWS put in an error body (`{"message": …}`), if any. */
function awsMessage(answer: HttpAnswer): string {
  try {
    const body = JSON.parse(answer.body) as { message?: unknown; Message?: unknown };
    const m = body.message ?? body.Message;
    if (typeof m === "string") return m;
  } catch {
    /* not JSON */
  }
  return answer.body.slice(0, 200) || `HTTP ${answer.status}`;
}

/** TLS alerts by which a server refuses the client's certificate. */
const REFUSED_CLIENT_CERT =
  /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_REQUIRED|ACCESS_DENIED|DECRYPT_ERROR|UNSUPPORTED_CERTIFICATE|HANDSHAKE_FAILURE)|alert (unknown ca|bad certificate|certificate expired|certificate required|decrypt error|handshake failure)|TLS_ALERT|NEGOTIATION_FAILURE/i;
/** Node's codes for an endpoint certificate this process does not trust. */
const UNTRUSTED_SERVER =
  /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_UNTRUSTED)$/;

/**
 * AWS IoT Core's credentials provider as a credential source: `GET /role-aliases/<roleAlias>/credentials` over mutual
 * TLS with the device's X.509 certificate, answered with role credentials. The certificate and key are read again at
 * every refresh, so a certificate renewed on disk is used from the next refresh on; one that expires before the
 * credential it obtained is reported (`certificate-expiring`, a log line, `status`). A `pkcs11` key never leaves its
 * token: the TLS handshake is signed by the token through the optional `aws-crt` package.
 *
 * @example
 * ```ts
 * import { refreshable, fromIotCertificate } from "aws-refresh-session";
 * const credentials = refreshable(
 *   fromIotCertificate({
 *     endpoint: "c1a2b3d4e5f6g7.credentials.iot.eu-west-1.amazonaws.com",
 *     roleAlias: "sensor-uploader",
 *     thingName: "sensor-7",
 *     certificate: "/etc/device/cert.pem",
 *     privateKey: "/etc/device/key.pem",
 *     ca: "/etc/device/AmazonRootCA1.pem",
 *   }),
 * );
 * ```
 */
export function fromIotCertificate(init: IotCertificateInit): IotCertificateSource {
  const { url: base, spec } = validate(init);
  const clock = init.clock ?? Date;
  const name = `iot:${init.roleAlias}`;
  const context = { source: name };
  const timeoutMs = init.timeoutMs ?? DEFAULT_IOT_TIMEOUT_MS;
  const url = new URL(
    `${base.pathname.replace(/\/+$/, "")}/role-aliases/${encodeURIComponent(init.roleAlias)}/credentials`,
    base,
  );
  const region = init.region ?? CREDENTIALS_HOST.exec(base.hostname)?.[1];
  const watch = new CertificateWatch(spec, context, clock, init.logger);
  const thing = init.thingName ? ` for thing "${init.thingName}"` : "";

  const call = async (material: CertificateMaterial, ca: string | undefined): Promise<HttpAnswer> => {
    const headers: Record<string, string> = { accept: "application/json" };
    if (init.thingName) headers["x-amzn-iot-thingname"] = init.thingName;
    try {
      if (material.key.kind === "pem") {
        return await exchange({
          url,
          method: "GET",
          headers,
          timeoutMs,
          tls: { cert: material.presented, key: material.key.keyObject, ...(ca !== undefined ? { ca } : {}) },
        });
      }
      return await pkcs11TlsGet(
        {
          url,
          headers,
          certificate: material.presented,
          key: material.key.object,
          ...(ca !== undefined ? { ca } : {}),
          timeoutMs,
        },
        context,
      );
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      const text = `${err.code ?? ""} ${err.message}`;
      if (err.code !== undefined && UNTRUSTED_SERVER.test(err.code)) {
        throw new RefreshSessionError(
          "SOURCE_FAILED",
          `The IoT credentials endpoint ${url.host} presented a certificate this process does not trust ` +
            `(${err.code}) for "${name}". Give its CA with \`ca\` (AWS IoT: AmazonRootCA1.pem), and check \`endpoint\`.`,
          { ...context, cause: err },
        );
      }
      if (material.key.kind === "pkcs11" && /SIGNATURE_ALGORITHM_UNSUPPORTED/.test(text)) {
        // aws-crt cannot sign the handshake the certificate announces with the token's key: another key type.
        throw keyMismatch(material.leaf, material.where, context);
      }
      if (REFUSED_CLIENT_CERT.test(text)) {
        throw new RefreshSessionError(
          "CERTIFICATE_UNTRUSTED",
          `The IoT credentials endpoint ${url.host} refused the certificate ${describeCertificate(material.leaf)} ` +
            `(${material.where.certificate}) in the TLS handshake (${err.message}) for "${name}". It must be issued by a ` +
            "CA registered with AWS IoT (or be registered itself) and active" +
            (material.key.kind === "pkcs11" ? ", and the token's key must be the certificate's own." : "."),
          { ...context, cause: err },
        );
      }
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        `The IoT credentials endpoint ${url.host} could not be reached for "${name}": ${err.message}`,
        { ...context, cause: err },
      );
    }
  };

  const refusal = (answer: HttpAnswer, material: CertificateMaterial): RefreshSessionError => {
    const message = awsMessage(answer);
    const cert = `${describeCertificate(material.leaf)} (${material.where.certificate})`;
    const says = `AWS IoT answered ${answer.status}: ${message}`;
    if (answer.status === 403 && /thing name/i.test(message)) {
      return new RefreshSessionError(
        "IOT_THING_NOT_ATTACHED",
        `${says}. The thing "${init.thingName ?? ""}" does not exist or is not attached to the certificate ${cert}: ` +
          `attach it (\`aws iot attach-thing-principal --thing-name ${init.thingName ?? "<thing>"} --principal ` +
          "<certificate ARN>`) or fix `thingName`.",
        context,
      );
    }
    if (answer.status === 403 && /certificate/i.test(message)) {
      return new RefreshSessionError(
        "CERTIFICATE_UNTRUSTED",
        `${says}. AWS IoT does not accept the certificate ${cert} here: register it (or its CA) in this account and ` +
          "region and make it ACTIVE, and use the account's own credentials endpoint.",
        context,
      );
    }
    if (answer.status === 403) {
      return new RefreshSessionError(
        "ACCESS_DENIED",
        `${says}. The IoT policy of the certificate ${cert} must allow iot:AssumeRoleWithCertificate on the role ` +
          `alias "${init.roleAlias}"${thing}.`,
        context,
      );
    }
    if (answer.status === 404) {
      return new RefreshSessionError(
        "CONFIG_INVALID",
        `${says}. Check \`roleAlias\` "${init.roleAlias}" (\`aws iot describe-role-alias --role-alias ${init.roleAlias}\`) ` +
          "and that the endpoint is in its account and region.",
        context,
      );
    }
    if (answer.status === 400 && /assume the role/i.test(message)) {
      return new RefreshSessionError(
        "ACCESS_DENIED",
        `${says}. The role of role alias "${init.roleAlias}" must exist and its trust policy must let ` +
          "credentials.iot.amazonaws.com assume it (sts:AssumeRole).",
        context,
      );
    }
    const throttled = throttlingCause(answer);
    if (throttled) {
      // Throttled (AWS's JSON services mostly say so with a 400): retried with backoff, never a config mistake.
      return new RefreshSessionError(
        "SOURCE_FAILED",
        `${says} (role alias "${init.roleAlias}"${thing}); retrying with backoff`,
        {
          ...context,
          cause: throttled,
        },
      );
    }
    if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
      return new RefreshSessionError("CONFIG_INVALID", `${says} (role alias "${init.roleAlias}"${thing}).`, context);
    }
    // 429 and 5xx: retryable; the engine backs off and keeps serving the current credential meanwhile.
    return new RefreshSessionError("SOURCE_FAILED", `${says} (role alias "${init.roleAlias}"${thing})`, context);
  };

  const source = async (): Promise<AwsCredentialIdentity> => {
    const material = await loadMaterial(spec, context, clock.now());
    const ca = init.ca === undefined ? undefined : await readPemInput(init.ca, "CA (`ca`)", context);
    const answer = await call(material, ca);
    if (answer.status !== 200) throw refusal(answer, material);
    let credential: ReturnType<typeof readJsonCredential>;
    try {
      credential = readJsonCredential((JSON.parse(answer.body) as { credentials?: unknown }).credentials);
    } catch {
      credential = undefined;
    }
    if (!credential) {
      throw new RefreshSessionError(
        "INVALID_CREDENTIALS",
        `The IoT credentials endpoint ${url.host} answered 200 without credentials.accessKeyId, secretAccessKey, ` +
          `sessionToken and expiration for "${name}"`,
        context,
      );
    }
    watch.credentialObtained(material.leaf, material.chain, credential.expiration);
    return credential;
  };

  return Object.assign(source, {
    sourceName: name,
    endpoint: url,
    region,
    validUntil: () => watch.sessionEnd(),
    async status(): Promise<SourceStatusItem[]> {
      return [
        { key: "iot.endpoint", label: "IoT credentials endpoint", value: url.href },
        { key: "iot.roleAlias", label: "IoT role alias", value: init.roleAlias },
        ...(init.thingName ? [{ key: "iot.thingName", label: "IoT thing name", value: init.thingName }] : []),
        ...(init.ca ? [{ key: "iot.ca", label: "Endpoint CA", value: describePemInput(init.ca) }] : []),
        ...(await watch.status()),
      ];
    },
    bindEmitter: (emit: SourceEmitter) => watch.bindEmitter(emit),
    close: () => {},
  });
}
