/**
 * Where a key (or a certificate) held by a PKCS#11 token is: the module, the token, the PIN and the object. The PIN
 * is a secret: it never reaches a message, a log or `util.inspect`.
 *
 * @example
 * ```ts
 * const key: Pkcs11KeyOptions = {
 *   module: "/usr/lib/softhsm/libsofthsm2.so",
 *   tokenLabel: "device",
 *   pinFile: "/run/secrets/token-pin",
 *   keyLabel: "device-key",
 * };
 * ```
 */
export interface Pkcs11KeyOptions {
  /** Path of the PKCS#11 module (the vendor's `.so`), e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  module: string;
  /** The slot id of the token. Default: the token named by `tokenLabel`, else the only token present. */
  slot?: number;
  /** The token's label. Default: the token in `slot`, else the only token present. */
  tokenLabel?: string;
  /** The user PIN. One of `pin` and `pinFile` is required. */
  pin?: string;
  /** A file holding the user PIN (trailing newline ignored), read at every refresh. */
  pinFile?: string;
  /** `CKA_LABEL` of the private key. Default: the only private key on the token (or the one `keyId` names). */
  keyLabel?: string;
  /** `CKA_ID` of the private key, in hex (e.g. `01` or `a1b2`). IAM Roles Anywhere only: IoT selects by label. */
  keyId?: string;
}

/** Where a certificate held by a PKCS#11 token is (IAM Roles Anywhere reads it from there at every refresh). */
export interface Pkcs11CertificateOptions {
  module: string;
  slot?: number;
  tokenLabel?: string;
  /** The user PIN, if the token needs a login to show its certificates. */
  pin?: string;
  pinFile?: string;
  /** `CKA_LABEL` of the certificate. Default: the only certificate on the token (or the one `certificateId` names). */
  certificateLabel?: string;
  /** `CKA_ID` of the certificate, in hex. */
  certificateId?: string;
}

/** Which object of a token: what the token module needs to find one. Internal. */
export interface Pkcs11Object {
  module: string;
  slot: number | undefined;
  tokenLabel: string | undefined;
  pin: string | undefined;
  pinFile: string | undefined;
  label: string | undefined;
  /** CKA_ID bytes. */
  id: Buffer | undefined;
}

function text(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw new TypeError(`\`${name}\` must be a non-empty string`);
  return v;
}

function hexId(name: string, v: unknown): Buffer | undefined {
  const s = text(name, v);
  if (s === undefined) return undefined;
  const clean = s.replace(/^0x/i, "").replace(/:/g, "");
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(clean)) throw new TypeError(`\`${name}\` must be hex bytes, e.g. "01" or "a1b2c3"`);
  return Buffer.from(clean, "hex");
}

function common(name: string, o: unknown, pinRequired: boolean): Omit<Pkcs11Object, "label" | "id"> {
  if (o === null || typeof o !== "object") {
    throw new TypeError(
      `\`${name}\` must be an object with \`module\`, \`pin\` or \`pinFile\`, and the object's label`,
    );
  }
  const v = o as Record<string, unknown>;
  const module = text(`${name}.module`, v.module);
  if (module === undefined) {
    throw new TypeError(
      `\`${name}.module\` is required: the path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so`,
    );
  }
  if (v.slot !== undefined && !(Number.isInteger(v.slot) && (v.slot as number) >= 0)) {
    throw new TypeError(`\`${name}.slot\` must be a slot id (an integer >= 0)`);
  }
  const pin = text(`${name}.pin`, v.pin);
  const pinFile = text(`${name}.pinFile`, v.pinFile);
  if (pin !== undefined && pinFile !== undefined)
    throw new TypeError(`Give \`${name}.pin\` or \`${name}.pinFile\`, not both`);
  if (pinRequired && pin === undefined && pinFile === undefined) {
    throw new TypeError(`\`${name}.pin\` or \`${name}.pinFile\` is required to log in to the token`);
  }
  return {
    module,
    slot: v.slot as number | undefined,
    tokenLabel: text(`${name}.tokenLabel`, v.tokenLabel),
    pin,
    pinFile,
  };
}

/** Validates `{ pkcs11: … }` key options; throws a TypeError naming the option. */
export function pkcs11KeyObject(name: string, o: unknown): Pkcs11Object {
  const base = common(name, o, true);
  const v = o as Record<string, unknown>;
  return { ...base, label: text(`${name}.keyLabel`, v.keyLabel), id: hexId(`${name}.keyId`, v.keyId) };
}

/** Validates `{ pkcs11: … }` certificate options; throws a TypeError naming the option. */
export function pkcs11CertificateObject(name: string, o: unknown): Pkcs11Object {
  const base = common(name, o, false);
  const v = o as Record<string, unknown>;
  return {
    ...base,
    label: text(`${name}.certificateLabel`, v.certificateLabel),
    id: hexId(`${name}.certificateId`, v.certificateId),
  };
}

/** The token and object in messages, e.g. `PKCS#11 token "device", object "device-key"`. Never the PIN. */
export function describePkcs11(o: Pkcs11Object): string {
  const token =
    o.tokenLabel !== undefined ? `token "${o.tokenLabel}"` : o.slot !== undefined ? `slot ${o.slot}` : "the token";
  const object =
    o.label !== undefined
      ? `object "${o.label}"`
      : o.id !== undefined
        ? `id ${o.id.toString("hex")}`
        : "its only object";
  return `PKCS#11 ${token} of ${o.module}, ${object}`;
}
