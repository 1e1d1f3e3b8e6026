/**
 * IAM Roles Anywhere as a credential source, and the reading of an `aws_signing_helper credential-process …` command
 * line into its options. One file past ~400 lines because the command-line reader belongs to this source alone: it
 * maps the helper's flags onto these options, and keeping the two side by side keeps them in step.
 */
import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import { readJsonCredential } from "../util/jsonCredential.js";
import { RefreshSessionError } from "../errors.js";
import { describeCertificate } from "../certs/certificate.js";
import {
  loadMaterial,
  signWithMaterial,
  validateMaterial,
  type CertificateMaterial,
  type CertificateMaterialInit,
} from "../certs/certificateMaterial.js";
import { CertificateWatch } from "../certs/certificateWatch.js";
import { exchange, throttlingCause, TransportError, type HttpAnswer } from "../certs/httpRequest.js";
import type { Pkcs11CertificateOptions, Pkcs11KeyOptions } from "../certs/pkcs11Options.js";
import { pkcs11TargetFromUri } from "../certs/pkcs11Uri.js";
import { signX509Request } from "../certs/x509SigV4.js";
import type { CertificateSessionEnd, Clock, CredentialSource, SourceEmitter, SourceStatusItem } from "../types.js";

/** Lifetime asked of CreateSession unless told otherwise: 1 hour (as `aws_signing_helper`). */
export const DEFAULT_ROLES_ANYWHERE_DURATION_SECONDS = 3600;
/** Deadline of one CreateSession call: 10 s. */
export const DEFAULT_ROLES_ANYWHERE_TIMEOUT_MS = 10_000;

/** Options of {@link fromRolesAnywhere} (and of `new RefreshableSession({ method: "roles-anywhere", … })`). */
export interface RolesAnywhereInit extends CertificateMaterialInit {
  /** `arn:aws:rolesanywhere:<region>:<account>:trust-anchor/<id>`. */
  trustAnchorArn: string;
  /** `arn:aws:rolesanywhere:<region>:<account>:profile/<id>`. */
  profileArn: string;
  /** The role to assume (one of the profile's). */
  roleArn: string;
  /** A file path or PEM text read at every refresh, or `{ pkcs11 }` (a certificate held by the token). */
  certificate: string | { pkcs11: Pkcs11CertificateOptions };
  /** A file path or PEM text read at every refresh, or `{ pkcs11 }` (needs `pkcs11js`). */
  privateKey: string | { pkcs11: Pkcs11KeyOptions };
  /** 900..43200. Default 3600. The profile's own `durationSeconds` may cut it. */
  durationSeconds?: number;
  /** Role session name (the profile must accept custom names). Default: the certificate's serial, as AWS sets it. */
  roleSessionName?: string;
  /** Signing region and endpoint region. Default: the trust anchor ARN's region. */
  region?: string;
  /**
   * CreateSession endpoint. Default: `AWS_ENDPOINT_URL_ROLESANYWHERE`, else `AWS_ENDPOINT_URL`, else
   * `https://rolesanywhere.<region>.amazonaws.com`.
   */
  endpoint?: string;
  /** Deadline of one call. Default 10000. */
  timeoutMs?: number;
  /** Environment for the endpoint variables. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default: silent. */
  logger?: Logger;
  /** Signing time and validity checks. Default `Date`. */
  clock?: Clock;
}

/** What {@link fromRolesAnywhere} returns. */
export type RolesAnywhereSource = CredentialSource & {
  readonly endpoint: URL;
  readonly region: string;
  /** When the certificate stops allowing credentials. */
  validUntil(): Promise<CertificateSessionEnd | undefined>;
  /** Facts for `aws-refresh status`. */
  status(): Promise<SourceStatusItem[]>;
  /** Receives `certificate-expiring`. */
  bindEmitter(emit: SourceEmitter): void;
  close(): void;
};

const ANCHOR_ARN = /^arn:aws[a-z-]*:rolesanywhere:([a-z0-9-]+):[0-9]{12}:trust-anchor\/[0-9a-zA-Z-]{1,64}$/;
const PROFILE_ARN = /^arn:aws[a-z-]*:rolesanywhere:([a-z0-9-]+):[0-9]{12}:profile\/[0-9a-zA-Z-]{1,64}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::([0-9]{12}):role\/[\w+=,.@/-]{1,512}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

function endpointFor(init: RolesAnywhereInit, region: string): URL {
  const env = init.env ?? process.env;
  const given = init.endpoint ?? env.AWS_ENDPOINT_URL_ROLESANYWHERE ?? env.AWS_ENDPOINT_URL;
  const name = init.endpoint !== undefined ? "`endpoint`" : "AWS_ENDPOINT_URL(_ROLESANYWHERE)";
  const text = given ?? `https://rolesanywhere.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`${name} must be an http(s):// URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(`${name} must be an http(s):// URL, got ${JSON.stringify(text)}`);
  }
  return url;
}

function validate(init: RolesAnywhereInit): void {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object");
  if (typeof init.trustAnchorArn !== "string" || !ANCHOR_ARN.test(init.trustAnchorArn)) {
    throw new TypeError(
      "`trustAnchorArn` must look like arn:aws:rolesanywhere:<region>:<account>:trust-anchor/<id>, got " +
        JSON.stringify(init.trustAnchorArn),
    );
  }
  if (typeof init.profileArn !== "string" || !PROFILE_ARN.test(init.profileArn)) {
    throw new TypeError(
      "`profileArn` must look like arn:aws:rolesanywhere:<region>:<account>:profile/<id>, got " +
        JSON.stringify(init.profileArn),
    );
  }
  if (typeof init.roleArn !== "string" || !ROLE_ARN.test(init.roleArn)) {
    throw new TypeError(
      `\`roleArn\` must be an IAM role ARN like arn:aws:iam::123456789012:role/name, got ${JSON.stringify(init.roleArn)}`,
    );
  }
  const anchorRegion = ANCHOR_ARN.exec(init.trustAnchorArn)?.[1];
  if (anchorRegion !== PROFILE_ARN.exec(init.profileArn)?.[1]) {
    throw new TypeError("`trustAnchorArn` and `profileArn` must be in the same region");
  }
  const d = init.durationSeconds;
  if (d !== undefined && (!Number.isInteger(d) || d < 900 || d > 43_200)) {
    throw new RangeError(`\`durationSeconds\` must be an integer from 900 to 43200, got ${String(d)}`);
  }
  if (
    init.roleSessionName !== undefined &&
    (typeof init.roleSessionName !== "string" || !SESSION_NAME.test(init.roleSessionName))
  ) {
    throw new TypeError(
      `\`roleSessionName\` must be 2 to 64 of letters, digits and +=,.@_-, got ${JSON.stringify(init.roleSessionName)}`,
    );
  }
  if (init.region !== undefined && (typeof init.region !== "string" || !/^[a-z0-9-]+$/.test(init.region))) {
    throw new TypeError(`\`region\` must be a region name such as eu-west-1, got ${JSON.stringify(init.region)}`);
  }
  if (init.timeoutMs !== undefined && !(Number.isFinite(init.timeoutMs) && init.timeoutMs > 0)) {
    throw new RangeError("`timeoutMs` must be a positive number of milliseconds");
  }
  if (init.clock !== undefined && typeof init.clock?.now !== "function") {
    throw new TypeError("`clock` must be an object with a `now()` method");
  }
}

/** The error type and message of a REST-JSON error answer. */
function awsError(answer: HttpAnswer): { type: string; message: string } {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  const raw = answer.headers["x-amzn-errortype"] ?? (body.__type as string | undefined) ?? `HTTP ${answer.status}`;
  const type = raw.split(":")[0]?.split("#").pop() ?? raw;
  const m = body.message ?? body.Message;
  return { type, message: typeof m === "string" ? m : answer.body.slice(0, 200) };
}

/**
 * IAM Roles Anywhere as a credential source: CreateSession (`POST /sessions`) signed with the X.509 variant of SigV4
 * (`AWS4-X509-RSA-SHA256` / `AWS4-X509-ECDSA-SHA256`) by the certificate's private key, answered with the role's
 * credentials. What `aws_signing_helper credential-process` does on every call, done once per credential lifetime in
 * the background. Certificate, chain and key are read again at every refresh; a `pkcs11` key signs inside its token
 * through the optional `pkcs11js` package.
 *
 * @example
 * ```ts
 * import { refreshable, fromRolesAnywhere } from "aws-refresh-session";
 * const credentials = refreshable(
 *   fromRolesAnywhere({
 *     trustAnchorArn: "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0c9a…",
 *     profileArn: "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/6f1e…",
 *     roleArn: "arn:aws:iam::123456789012:role/metaflow",
 *     certificate: "/etc/pki/host/cert.pem",
 *     privateKey: "/etc/pki/host/key.pem",
 *   }),
 * );
 * ```
 */
export function fromRolesAnywhere(init: RolesAnywhereInit): RolesAnywhereSource {
  validate(init);
  const spec = validateMaterial(init, { pkcs11Certificate: true, pkcs11KeyId: true });
  const region = init.region ?? (ANCHOR_ARN.exec(init.trustAnchorArn)?.[1] as string);
  const base = endpointFor(init, region);
  const url = new URL(`${base.pathname.replace(/\/+$/, "")}/sessions`, base);
  url.searchParams.set("profileArn", init.profileArn);
  url.searchParams.set("roleArn", init.roleArn);
  url.searchParams.set("trustAnchorArn", init.trustAnchorArn);
  const clock = init.clock ?? Date;
  const name = `roles-anywhere:${init.roleArn}`;
  const context = { source: name };
  const timeoutMs = init.timeoutMs ?? DEFAULT_ROLES_ANYWHERE_TIMEOUT_MS;
  const durationSeconds = init.durationSeconds ?? DEFAULT_ROLES_ANYWHERE_DURATION_SECONDS;
  const watch = new CertificateWatch(spec, context, clock, init.logger);
  const accountId = ROLE_ARN.exec(init.roleArn)?.[1];

  const refusal = (answer: HttpAnswer, material: CertificateMaterial): RefreshSessionError => {
    const { type, message } = awsError(answer);
    const cert = `${describeCertificate(material.leaf)} (${material.where.certificate})`;
    const says = `IAM Roles Anywhere answered ${answer.status} ${type}: ${message}`;
    if (type === "AccessDeniedException" && /expired|not yet valid/i.test(message) && /certificate/i.test(message)) {
      return new RefreshSessionError(
        "CERTIFICATE_EXPIRED",
        `${says}. Renew the certificate ${cert} (and write it to the same place; the source reads it at every refresh), ` +
          "or check this machine's clock.",
        context,
      );
    }
    if (type === "AccessDeniedException" && /untrusted|trust anchor|chain|certificate/i.test(message)) {
      return new RefreshSessionError(
        "CERTIFICATE_UNTRUSTED",
        `${says}. The certificate ${cert} must chain to the trust anchor ${init.trustAnchorArn} (give the ` +
          "intermediates with `intermediates` if the anchor holds only the root), and the anchor must be enabled.",
        context,
      );
    }
    if (type === "AccessDeniedException" && /signature/i.test(message)) {
      return new RefreshSessionError(
        "SOURCE_FAILED",
        `${says}. If the signature expired, this machine's clock is off: correct it (NTP).`,
        context,
      );
    }
    if (type === "AccessDeniedException" || answer.status === 403) {
      return new RefreshSessionError(
        "ACCESS_DENIED",
        `${says}. The role ${init.roleArn} must be one of the profile's roles, and its trust policy must let ` +
          "rolesanywhere.amazonaws.com assume it (sts:AssumeRole, sts:TagSession, sts:SetSourceIdentity) for this " +
          `certificate (conditions on aws:PrincipalTag/x509Subject/… and aws:SourceArn ${init.trustAnchorArn}).`,
        context,
      );
    }
    if (answer.status === 404 || type === "ResourceNotFoundException") {
      return new RefreshSessionError(
        "CONFIG_INVALID",
        `${says}. Check \`trustAnchorArn\` and \`profileArn\` (both must exist and be enabled in ${region}).`,
        context,
      );
    }
    const throttled = throttlingCause(answer);
    if (throttled) {
      // Throttled (AWS's JSON services mostly say so with a 400): retried with backoff, never a config mistake.
      return new RefreshSessionError("SOURCE_FAILED", `${says}; retrying with backoff`, {
        ...context,
        cause: throttled,
      });
    }
    if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
      return new RefreshSessionError("CONFIG_INVALID", `${says}`, context);
    }
    return new RefreshSessionError("SOURCE_FAILED", says, context);
  };

  const source = async (): Promise<AwsCredentialIdentity> => {
    const now = clock.now();
    const material = await loadMaterial(spec, context, now);
    const body = JSON.stringify({
      durationSeconds,
      ...(init.roleSessionName !== undefined ? { roleSessionName: init.roleSessionName } : {}),
    });
    const headers = await signX509Request({
      method: "POST",
      url,
      headers: { "content-type": "application/json" },
      body,
      region,
      service: "rolesanywhere",
      date: now,
      leaf: material.leaf,
      chain: material.chain,
      sign: (data) => signWithMaterial(material, data, context),
    });
    let answer: HttpAnswer;
    try {
      answer = await exchange({ url, method: "POST", headers, body, timeoutMs });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        `IAM Roles Anywhere (${url.host}) could not be reached for "${name}": ${err.message}`,
        { ...context, cause: err },
      );
    }
    if (answer.status !== 201 && answer.status !== 200) throw refusal(answer, material);
    let credential: ReturnType<typeof readJsonCredential>;
    try {
      const out = JSON.parse(answer.body) as { credentialSet?: { credentials?: unknown }[] };
      credential = readJsonCredential(out.credentialSet?.[0]?.credentials);
    } catch {
      credential = undefined;
    }
    if (!credential) {
      throw new RefreshSessionError(
        "INVALID_CREDENTIALS",
        `IAM Roles Anywhere answered without credentialSet[0].credentials (accessKeyId, secretAccessKey, ` +
          `sessionToken, expiration) for "${name}"`,
        context,
      );
    }
    watch.credentialObtained(material.leaf, material.chain, credential.expiration);
    return { ...credential, ...(accountId ? { accountId } : {}) };
  };

  return Object.assign(source, {
    sourceName: name,
    endpoint: url,
    region,
    validUntil: () => watch.sessionEnd(),
    async status(): Promise<SourceStatusItem[]> {
      return [
        { key: "rolesanywhere.endpoint", label: "Roles Anywhere endpoint", value: `${url.origin}${url.pathname}` },
        { key: "rolesanywhere.trustAnchorArn", label: "Trust anchor", value: init.trustAnchorArn },
        { key: "rolesanywhere.profileArn", label: "Roles Anywhere profile", value: init.profileArn },
        { key: "rolesanywhere.roleArn", label: "Role", value: init.roleArn },
        ...(await watch.status()),
      ];
    },
    bindEmitter: (emit: SourceEmitter) => watch.bindEmitter(emit),
    close: () => {},
  });
}

/** Helper flags this library knows but does not serve natively, with the reason. */
const UNSUPPORTED_FLAGS: Record<string, string> = {
  "--cert-selector": "certificate stores (Windows, macOS Keychain) are not read",
  "--system-store-name": "certificate stores (Windows, macOS Keychain) are not read",
  "--use-latest-expiring-certificate": "certificate stores (Windows, macOS Keychain) are not read",
  "--tpm-key-password": "TPM keys are not supported",
  "--no-tpm-key-password": "TPM keys are not supported",
  "--no-verify-ssl": "TLS verification is never turned off",
  "--with-proxy": "proxies are not supported",
};
/** Flags that take a value. */
const VALUE_FLAGS = new Set([
  "--certificate",
  "--private-key",
  "--intermediates",
  "--trust-anchor-arn",
  "--profile-arn",
  "--role-arn",
  "--session-duration",
  "--region",
  "--endpoint",
  "--role-session-name",
  "--pkcs11-lib",
  "--pkcs8-password",
]);
/** Flags without a value that change nothing here: `--debug` (helper logging), `--reuse-pin` (the user PIN is
 * always used for a key's context-specific login). */
const NO_OP_FLAGS = new Set(["--debug", "--reuse-pin"]);

/** Secrets {@link rolesAnywhereInitFromArgv} takes apart from the command line. Never shown. */
export interface RolesAnywhereArgvSecrets {
  /** PIN of a `pkcs11:` `--private-key` whose URI carries none. */
  pin?: string;
  /** A file holding that PIN, read at every refresh (when `pin` is not given). */
  pinFile?: string;
  /** Passphrase of an encrypted PEM `--private-key`. */
  passphrase?: string;
}

/** Whether `argv` runs `aws_signing_helper credential-process` (any path to the helper). */
export function isSigningHelperCommand(argv: readonly string[]): boolean {
  const program = argv[0]
    ?.split(/[\\/]/)
    .pop()
    ?.replace(/\.exe$/i, "");
  return program === "aws_signing_helper" && argv[1] === "credential-process";
}

/**
 * Turns the argv of `aws_signing_helper credential-process …` (a profile's `credential_process`, split into words)
 * into {@link fromRolesAnywhere}'s options, so the same flags are served natively with background refresh. Takes
 * `--certificate`, `--private-key`, `--intermediates`, `--trust-anchor-arn`, `--profile-arn`, `--role-arn`,
 * `--session-duration`, `--region`, `--endpoint`, `--role-session-name`, `--pkcs11-lib`, `--pkcs8-password`, the
 * `pkcs11:` URI forms of the certificate and key (PIN from `pin-value` or `pin-source`), and `--flag=value`; refuses
 * what it cannot honour with a TypeError naming the flag. Pure: reads no file. `secrets` holds what must not be on a
 * command line, given apart from it: the PIN (or a file holding it) for a `pkcs11:` key whose URI has none, and the
 * passphrase of an encrypted PEM key (instead of `--pkcs8-password`).
 *
 * @example
 * ```ts
 * const init = rolesAnywhereInitFromArgv([
 *   "aws_signing_helper", "credential-process",
 *   "--certificate", "/etc/pki/cert.pem", "--private-key", "/etc/pki/key.pem",
 *   "--trust-anchor-arn", anchorArn, "--profile-arn", profileArn, "--role-arn", roleArn,
 * ]);
 * const source = fromRolesAnywhere(init);
 * ```
 */
export function rolesAnywhereInitFromArgv(
  argv: readonly string[],
  secrets: RolesAnywhereArgvSecrets = {},
): RolesAnywhereInit {
  if (!Array.isArray(argv) || argv.some((a) => typeof a !== "string")) {
    throw new TypeError("`argv` must be an array of strings");
  }
  if (!isSigningHelperCommand(argv)) {
    throw new TypeError(
      `Not an \`aws_signing_helper credential-process\` command: ${JSON.stringify(argv.slice(0, 2).join(" "))}`,
    );
  }
  const values = new Map<string, string>();
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (NO_OP_FLAGS.has(flag)) {
      if (eq !== -1 && !/^(true|false)$/.test(arg.slice(eq + 1))) throw new TypeError(`\`${flag}\` takes no value`);
      continue;
    }
    if (Object.hasOwn(UNSUPPORTED_FLAGS, flag)) {
      throw new TypeError(
        `\`${flag}\` of aws_signing_helper cannot be served natively: ${UNSUPPORTED_FLAGS[flag]}. ` +
          "Run the helper itself (as a plain credential_process) for this profile.",
      );
    }
    if (!VALUE_FLAGS.has(flag)) {
      throw new TypeError(
        flag.startsWith("-")
          ? `Unknown aws_signing_helper flag \`${flag}\``
          : `Unexpected argument ${JSON.stringify(arg)} in the aws_signing_helper command`,
      );
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || (eq === -1 && value.startsWith("--"))) throw new TypeError(`\`${flag}\` needs a value`);
    if (values.has(flag)) throw new TypeError(`\`${flag}\` is given twice`);
    values.set(flag, value);
  }
  const need = (flag: string): string => {
    const v = values.get(flag);
    if (v === undefined || v === "") throw new TypeError(`\`${flag}\` is required`);
    return v;
  };
  const lib = values.get("--pkcs11-lib");
  const certificateArg = values.get("--certificate");
  const keyArg = values.get("--private-key") ?? (certificateArg?.startsWith("pkcs11:") ? certificateArg : undefined);
  if (certificateArg === undefined) throw new TypeError("`--certificate` is required");
  if (keyArg === undefined) throw new TypeError("`--private-key` is required");
  if (keyArg.startsWith("handle:")) throw new TypeError("`--private-key` handle: (a TPM key) is not supported");

  let certificate: RolesAnywhereInit["certificate"] = certificateArg;
  if (certificateArg.startsWith("pkcs11:")) {
    const { label, id, ...rest } = pkcs11TargetFromUri("--certificate", certificateArg, lib);
    certificate = {
      pkcs11: {
        ...rest,
        ...(label !== undefined ? { certificateLabel: label } : {}),
        ...(id ? { certificateId: id } : {}),
      },
    };
  }
  let privateKey: RolesAnywhereInit["privateKey"] = keyArg;
  if (keyArg.startsWith("pkcs11:")) {
    const { label, id, ...rest } = pkcs11TargetFromUri("--private-key", keyArg, lib);
    if (rest.pin === undefined && rest.pinFile === undefined) {
      if (secrets.pin !== undefined) rest.pin = secrets.pin;
      else if (secrets.pinFile !== undefined) rest.pinFile = secrets.pinFile;
    }
    if (rest.pin === undefined && rest.pinFile === undefined) {
      throw new TypeError(
        "`--private-key` is a pkcs11: URI without a PIN: the helper would prompt on the terminal, which a background " +
          "refresh cannot do. Put it in the URI (pin-source=file:/path, or pin-value=…).",
      );
    }
    privateKey = {
      pkcs11: { ...rest, ...(label !== undefined ? { keyLabel: label } : {}), ...(id ? { keyId: id } : {}) },
    };
  }
  const init: RolesAnywhereInit = {
    trustAnchorArn: need("--trust-anchor-arn"),
    profileArn: need("--profile-arn"),
    roleArn: need("--role-arn"),
    certificate,
    privateKey,
  };
  const duration = values.get("--session-duration");
  if (duration !== undefined) {
    if (!/^\d+$/.test(duration)) throw new RangeError("`--session-duration` must be a number of seconds");
    init.durationSeconds = Number(duration);
  }
  const optional: [string, "intermediates" | "region" | "endpoint" | "roleSessionName" | "passphrase"][] = [
    ["--intermediates", "intermediates"],
    ["--region", "region"],
    ["--endpoint", "endpoint"],
    ["--role-session-name", "roleSessionName"],
    ["--pkcs8-password", "passphrase"],
  ];
  for (const [flag, key] of optional) {
    const v = values.get(flag);
    if (v !== undefined) init[key] = v;
  }
  if (secrets.passphrase !== undefined && init.passphrase === undefined) init.passphrase = secrets.passphrase;
  return init;
}
