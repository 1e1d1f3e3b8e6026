import { createHash, randomUUID, verify, X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { parseAmzDate } from "../util/awsDate.js";
import { MAX_SKEW_MS } from "./emulator.js";
import type { Emulator, EmulatorRequestContext, EmulatorService } from "./types.js";
import { sendJson, sendJsonError } from "./xml.js";

/** A trust anchor of the emulated IAM Roles Anywhere. */
export interface EmulatorTrustAnchor {
  /** Default: a new `arn:aws:rolesanywhere:<region>:<account>:trust-anchor/<uuid>`. */
  arn?: string;
  /** The CA certificates (PEM) that anchor trust: a chain must end at one of them. */
  certificates: string[];
  /** Default true. */
  enabled?: boolean;
}

/** A profile of the emulated IAM Roles Anywhere. */
export interface EmulatorRolesAnywhereProfile {
  /** Default: a new `arn:aws:rolesanywhere:<region>:<account>:profile/<uuid>`. */
  arn?: string;
  roleArns: string[];
  /** Caps the sessions' lifetime, seconds. Default: none (the request's). */
  durationSeconds?: number;
  /** Whether `roleSessionName` may be given. Default true. */
  acceptRoleSessionName?: boolean;
  /** Default true. */
  enabled?: boolean;
}

/** What the trust policy of a role is asked. */
export interface RolesAnywhereTrustQuestion {
  roleArn: string;
  trustAnchorArn: string;
  profileArn: string;
  /** The leaf's subject, e.g. `CN=host-7, O=Acme`. */
  subject: string;
  serialNumber: bigint;
}

/** Options of {@link addRolesAnywhere}. */
export interface RolesAnywhereOptions {
  trustAnchors: EmulatorTrustAnchor[];
  profiles: EmulatorRolesAnywhereProfile[];
  /** The roles' trust policies: whether the role may be assumed for this certificate. Default: always. */
  trustPolicy?: (q: RolesAnywhereTrustQuestion) => boolean;
}

/** A CreateSession request as received, for verifiers of the signature outside this emulator. No secret in it. */
export interface ReceivedCreateSession {
  method: string;
  /** Raw path, still percent-encoded, without the query. */
  path: string;
  /** Raw query string, without `?`. */
  query: string;
  headers: Record<string, string>;
  body: string;
  /** The emulator's answer status. */
  status?: number;
}

/** The emulated IAM Roles Anywhere, as {@link addRolesAnywhere} returns it. */
export interface EmulatorRolesAnywhere {
  readonly trustAnchorArns: string[];
  readonly profileArns: string[];
  /** The emulator operation name, for `emu.fault()` and `emu.calls()`. */
  readonly operation: "rolesanywhere:CreateSession";
  /** CreateSession requests received (the last 100), oldest first. */
  received(): ReceivedCreateSession[];
  setTrustPolicy(fn: ((q: RolesAnywhereTrustQuestion) => boolean) | undefined): void;
  setTrustAnchorEnabled(arn: string, enabled: boolean): void;
}

const AUTH =
  /^(AWS4-X509-RSA-SHA256|AWS4-X509-ECDSA-SHA256) Credential=(\d+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]+)$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::([0-9]{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;

/** RFC 3986 encoding, as SigV4 canonicalises: written again here, apart from the client's signer. */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function stringToSign(
  req: ReceivedCreateSession,
  algorithm: string,
  amzDate: string,
  scope: string,
  signed: string[],
): string {
  const pairs = req.query
    .split("&")
    .filter(Boolean)
    .map((p) => {
      const [k = "", v = ""] = p.split("=");
      return [encode(decodeURIComponent(k.replace(/\+/g, " "))), encode(decodeURIComponent(v.replace(/\+/g, " ")))];
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  const canonical = [
    req.method,
    req.path
      .split("/")
      .map((s) => encode(decodeURIComponent(s)))
      .join("/"),
    pairs.map(([k, v]) => `${k}=${v}`).join("&"),
    signed.map((h) => `${h}:${(req.headers[h] ?? "").trim().replace(/\s+/g, " ")}\n`).join(""),
    signed.join(";"),
    createHash("sha256").update(req.body).digest("hex"),
  ].join("\n");
  return [algorithm, amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
}

/** Walks from the leaf through the sent intermediates to one of the anchor's CAs; the chain, or undefined. */
function chainToAnchor(
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  anchors: X509Certificate[],
): X509Certificate[] | undefined {
  const chain = [leaf];
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const root = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
    if (root) return [...chain, root];
    const next = intermediates.find((c) => !chain.includes(c) && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next || !next.ca) return undefined;
    chain.push(next);
    current = next;
  }
  return undefined;
}

/**
 * Adds IAM Roles Anywhere's CreateSession (`POST /sessions`) to the emulator. It verifies the request as AWS does,
 * with an implementation of its own (Node's crypto): the `AWS4-X509-RSA-SHA256` / `AWS4-X509-ECDSA-SHA256` signature
 * over the SigV4 canonical request with the public key of `X-Amz-X509`, that the credential is that certificate's
 * serial in decimal, the chain (`X-Amz-X509-Chain`) to the trust anchor, validity dates at the emulator's clock,
 * `X-Amz-Date` within 15 minutes, the ARNs, the profile's roles and the role's trust policy, and `durationSeconds`
 * (900..43200). It answers AWS's REST-JSON errors (`AccessDeniedException`, `ValidationException`,
 * `ResourceNotFoundException`). Faults and counters: `rolesanywhere:CreateSession`.
 *
 * @example
 * ```ts
 * const root = await createTestCa();
 * const ra = addRolesAnywhere(emu, {
 *   trustAnchors: [{ certificates: [root.certificate] }],
 *   profiles: [{ roleArns: ["arn:aws:iam::123456789012:role/metaflow"] }],
 * });
 * // fromRolesAnywhere({ endpoint: emu.url, trustAnchorArn: ra.trustAnchorArns[0], profileArn: ra.profileArns[0], … })
 * ```
 */
export function addRolesAnywhere(emu: Emulator, options: RolesAnywhereOptions): EmulatorRolesAnywhere {
  if (!options || !Array.isArray(options.trustAnchors) || !Array.isArray(options.profiles)) {
    throw new TypeError("`options` must have `trustAnchors` and `profiles` arrays");
  }
  const prefix = `arn:aws:rolesanywhere:${emu.region}:${emu.accountId}`;
  const anchors = new Map(
    options.trustAnchors.map((a) => {
      if (!Array.isArray(a.certificates) || a.certificates.length === 0) {
        throw new TypeError("`trustAnchors[].certificates` must hold at least one CA certificate (PEM)");
      }
      const arn = a.arn ?? `${prefix}:trust-anchor/${randomUUID()}`;
      return [arn, { certs: a.certificates.map((c) => new X509Certificate(c)), enabled: a.enabled ?? true }];
    }),
  );
  const profiles = new Map(
    options.profiles.map((p) => [p.arn ?? `${prefix}:profile/${randomUUID()}`, { ...p, enabled: p.enabled ?? true }]),
  );
  let trustPolicy = options.trustPolicy;
  const log: ReceivedCreateSession[] = [];

  const service: EmulatorService = {
    name: "rolesanywhere",
    match: (req: IncomingMessage, url: URL) => req.method === "POST" && url.pathname === "/sessions",
    operation: () => "CreateSession",
    handle(ctx: EmulatorRequestContext) {
      const raw = ctx.req.url ?? "/";
      const q = raw.indexOf("?");
      const received: ReceivedCreateSession = {
        method: ctx.req.method ?? "POST",
        path: q === -1 ? raw : raw.slice(0, q),
        query: q === -1 ? "" : raw.slice(q + 1),
        headers: { ...ctx.headers },
        body: ctx.body.toString("utf8"),
      };
      log.push(received);
      if (log.length > 100) log.shift();
      ctx.res.on("finish", () => (received.status = ctx.res.statusCode));
      const deny = (message: string): void => sendJsonError(ctx.res, 403, "AccessDeniedException", message);
      const invalid = (message: string): void => sendJsonError(ctx.res, 400, "ValidationException", message);
      const notFound = (message: string): void => sendJsonError(ctx.res, 404, "ResourceNotFoundException", message);

      const auth = AUTH.exec((ctx.headers.authorization ?? "").trim());
      if (!auth) return deny("Missing or malformed AWS4-X509 Authorization header");
      const [
        ,
        algorithm = "",
        serial = "",
        shortDate = "",
        scopeRegion = "",
        scopeService = "",
        signedList = "",
        sig = "",
      ] = auth;
      const amzDate = ctx.headers["x-amz-date"] ?? "";
      const signedAt = parseAmzDate(amzDate);
      const now = ctx.now();
      if (!Number.isFinite(signedAt)) return deny("X-Amz-Date is missing or malformed");
      if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
        return deny(`Signature expired: ${amzDate} is more than 15 minutes away from the server's time`);
      }
      if (shortDate !== amzDate.slice(0, 8)) return deny("Credential scope date does not match X-Amz-Date");
      if (scopeService !== "rolesanywhere") return deny(`Credential should be scoped to service rolesanywhere`);
      if (scopeRegion !== emu.region) return deny(`Credential should be scoped to a valid region: ${emu.region}`);
      const signed = signedList.split(";");
      for (const h of ["host", "x-amz-date", "x-amz-x509"]) {
        if (!signed.includes(h)) return deny(`The header ${h} must be signed`);
      }
      let leaf: X509Certificate;
      let intermediates: X509Certificate[];
      try {
        leaf = new X509Certificate(Buffer.from(ctx.headers["x-amz-x509"] ?? "", "base64"));
        const chainHeader = ctx.headers["x-amz-x509-chain"];
        intermediates = chainHeader
          ? chainHeader.split(",").map((c) => new X509Certificate(Buffer.from(c.trim(), "base64")))
          : [];
      } catch {
        return deny("Untrusted certificate: X-Amz-X509 or X-Amz-X509-Chain is not a DER certificate in base64");
      }
      if (BigInt(`0x${leaf.serialNumber}`).toString() !== serial) {
        return deny("The credential is not the serial number of the certificate in X-Amz-X509");
      }
      const keyType = leaf.publicKey.asymmetricKeyType;
      if ((algorithm === "AWS4-X509-RSA-SHA256") !== (keyType === "rsa")) {
        return deny(`${algorithm} does not fit the certificate's ${String(keyType).toUpperCase()} key`);
      }
      const toSign = stringToSign(
        received,
        algorithm,
        amzDate,
        `${shortDate}/${scopeRegion}/rolesanywhere/aws4_request`,
        signed,
      );
      if (!verify("sha256", Buffer.from(toSign), leaf.publicKey, Buffer.from(sig, "hex"))) {
        return deny("Signature validation failed: the signature does not verify with the certificate's public key");
      }

      const params = ctx.url.searchParams;
      const anchorArn = params.get("trustAnchorArn") ?? "";
      const profileArn = params.get("profileArn") ?? "";
      const roleArn = params.get("roleArn") ?? "";
      if (!anchorArn || !profileArn || !roleArn) return invalid("trustAnchorArn, profileArn and roleArn are required");
      const anchor = anchors.get(anchorArn);
      if (!anchor) return notFound(`Trust anchor ${anchorArn} not found`);
      if (!anchor.enabled) return deny(`Untrusted certificate: trust anchor ${anchorArn} is disabled`);
      const chain = chainToAnchor(leaf, intermediates, anchor.certs);
      if (!chain) return deny("Untrusted certificate. Insufficient certificate: it does not chain to the trust anchor");
      for (const cert of chain) {
        if (now >= new Date(cert.validTo).getTime())
          return deny(`Certificate expired: ${cert.subject.replace(/\n/g, ", ")}`);
        if (now < new Date(cert.validFrom).getTime())
          return deny(`Certificate not yet valid: ${cert.subject.replace(/\n/g, ", ")}`);
      }
      const profile = profiles.get(profileArn);
      if (!profile || !profile.enabled) return notFound(`Profile ${profileArn} not found or disabled`);
      const role = ROLE_ARN.exec(roleArn);
      if (!role) return invalid(`${roleArn} is not a role ARN`);
      let body: { durationSeconds?: unknown; roleSessionName?: unknown } = {};
      try {
        body = received.body ? (JSON.parse(received.body) as typeof body) : {};
      } catch {
        return invalid("The request body is not valid JSON");
      }
      const d = body.durationSeconds ?? 3600;
      if (typeof d !== "number" || !Number.isInteger(d) || d < 900 || d > 43_200) {
        return invalid(
          `1 validation error detected: Value '${String(d)}' at 'durationSeconds' failed to satisfy constraint: ` +
            `Member must have value ${typeof d === "number" && d < 900 ? "greater than or equal to 900" : "less than or equal to 43200"}`,
        );
      }
      const sessionName = body.roleSessionName;
      if (sessionName !== undefined && (typeof sessionName !== "string" || !/^[\w+=,.@-]{2,64}$/.test(sessionName))) {
        return invalid("roleSessionName must be 2 to 64 of letters, digits and +=,.@_-");
      }
      if (sessionName !== undefined && profile.acceptRoleSessionName === false) {
        return invalid("The profile does not accept a custom role session name");
      }
      const subject = leaf.subject.split("\n").join(", ");
      const question = {
        roleArn,
        trustAnchorArn: anchorArn,
        profileArn,
        subject,
        serialNumber: BigInt(`0x${leaf.serialNumber}`),
      };
      if (!profile.roleArns.includes(roleArn) || (trustPolicy && !trustPolicy(question))) {
        return deny(`Unable to assume role for arn ${roleArn}: not allowed by the profile or the role's trust policy`);
      }
      const lifetime = Math.min(d, profile.durationSeconds ?? d, emu.credentialLifetimeSeconds());
      const name = typeof sessionName === "string" ? sessionName : leaf.serialNumber.toLowerCase();
      const arn = `arn:aws:sts::${role[1]}:assumed-role/${role[2]}/${name}`;
      const roleId = `AROAEMULATORRA${role[2]!.length.toString().padStart(6, "0")}`;
      const cred = emu.issueCredential("CreateSession", arn, `${roleId}:${name}`, lifetime);
      return sendJson(ctx.res, 201, {
        credentialSet: [
          {
            assumedRoleUser: { arn, assumedRoleId: `${roleId}:${name}` },
            credentials: {
              accessKeyId: cred.accessKeyId,
              secretAccessKey: cred.secretAccessKey,
              sessionToken: cred.sessionToken,
              expiration: new Date(cred.expiration as number).toISOString().replace(/\.\d{3}Z$/, "Z"),
            },
            packedPolicySize: 0,
            roleArn,
            sourceIdentity: subject,
          },
        ],
        subjectArn: `${prefix}:subject/${leaf.fingerprint256.replace(/:/g, "").slice(0, 32).toLowerCase()}`,
      });
    },
  };
  emu.addService(service);
  return {
    trustAnchorArns: [...anchors.keys()],
    profileArns: [...profiles.keys()],
    operation: "rolesanywhere:CreateSession",
    received: () => log.map((r) => ({ ...r, headers: { ...r.headers } })),
    setTrustPolicy(fn) {
      if (fn !== undefined && typeof fn !== "function") throw new TypeError("`fn` must be a function");
      trustPolicy = fn;
    },
    setTrustAnchorEnabled(arn, enabled) {
      const a = anchors.get(arn);
      if (!a) throw new RangeError(`No trust anchor ${arn}`);
      a.enabled = enabled;
    },
  };
}
