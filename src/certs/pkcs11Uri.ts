/**
 * A `pkcs11:` URI (RFC 7512) as `aws_signing_helper` takes for `--certificate` and `--private-key`, e.g.
 * `pkcs11:token=device;object=device-key;type=private?pin-value=1234&module-path=/usr/lib/softhsm/libsofthsm2.so`.
 * Holds the PIN when the URI carries one: never show it.
 */
export interface Pkcs11Uri {
  /** `token=`: the token label. */
  token?: string;
  /** `slot-id=`. */
  slotId?: number;
  /** `object=`: the object label. */
  object?: string;
  /** `id=`: the object id, hex. */
  id?: string;
  /** `type=`: `private`, `cert`, `public`… */
  type?: string;
  /** `?pin-value=`. */
  pinValue?: string;
  /** `?pin-source=file:/path` (or a bare path): the file holding the PIN. */
  pinSource?: string;
  /** `?module-path=`. */
  modulePath?: string;
}

const PATH_ATTRS = new Set([
  "token",
  "manufacturer",
  "serial",
  "model",
  "library-manufacturer",
  "library-description",
  "library-version",
  "slot-description",
  "slot-manufacturer",
  "slot-id",
  "object",
  "id",
  "type",
]);
const QUERY_ATTRS = new Set(["pin-value", "pin-source", "module-path", "module-name"]);

/** Percent-decoding to bytes: an `id` is raw bytes, often not valid UTF-8 (`%a1%b2`). */
function decodeBytes(value: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "%" && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(value[i] as string, "utf8"));
    }
  }
  return Buffer.from(bytes);
}

function decode(value: string, attr: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new TypeError(`The pkcs11: URI's \`${attr}\` is not valid percent-encoding`);
  }
}

/**
 * Parses a `pkcs11:` URI. Throws a TypeError for attributes this library cannot honour (e.g. `module-name`, or
 * `manufacturer`, which select nothing the token module can look up); the message never holds the PIN.
 *
 * @example
 * ```ts
 * parsePkcs11Uri("pkcs11:token=device;object=key?pin-value=1234").object; // "key"
 * ```
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (typeof uri !== "string" || !/^pkcs11:/i.test(uri)) throw new TypeError("A PKCS#11 URI starts with `pkcs11:`");
  const rest = uri.slice("pkcs11:".length);
  const q = rest.indexOf("?");
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? "" : rest.slice(q + 1);
  const out: Pkcs11Uri = {};
  for (const part of path.split(";").filter(Boolean)) {
    const eq = part.indexOf("=");
    const attr = eq === -1 ? part : part.slice(0, eq);
    if (!PATH_ATTRS.has(attr)) throw new TypeError(`The pkcs11: URI has an unknown attribute \`${attr}\``);
    const raw = eq === -1 ? "" : part.slice(eq + 1);
    if (attr === "id") {
      out.id = decodeBytes(raw).toString("hex");
      continue;
    }
    const value = decode(raw, attr);
    switch (attr) {
      case "token":
        out.token = value;
        break;
      case "object":
        out.object = value;
        break;
      case "type":
        out.type = value;
        break;
      case "slot-id":
        if (!/^\d+$/.test(value)) throw new TypeError("The pkcs11: URI's `slot-id` must be a number");
        out.slotId = Number(value);
        break;
      default:
        throw new TypeError(
          `The pkcs11: URI's \`${attr}\` is not supported here: select the token with \`token=\` or \`slot-id=\``,
        );
    }
  }
  for (const part of query.split("&").filter(Boolean)) {
    const eq = part.indexOf("=");
    const attr = eq === -1 ? part : part.slice(0, eq);
    if (!QUERY_ATTRS.has(attr)) throw new TypeError(`The pkcs11: URI has an unknown query attribute \`${attr}\``);
    const value = decode(eq === -1 ? "" : part.slice(eq + 1), attr);
    if (attr === "pin-value") out.pinValue = value;
    else if (attr === "pin-source") out.pinSource = value.replace(/^file:(\/\/)?/, "");
    else if (attr === "module-path") out.modulePath = value;
    else
      throw new TypeError(
        "The pkcs11: URI's `module-name` is not supported here: give `module-path` (or --pkcs11-lib)",
      );
  }
  return out;
}

/** What a `pkcs11:` URI names, as `{ pkcs11 }` options take it: the object's `label` / `id` still to be named. */
export interface Pkcs11UriTarget {
  module: string;
  slot?: number;
  tokenLabel?: string;
  pin?: string;
  pinFile?: string;
  /** `object=`. */
  label?: string;
  /** `id=`, hex. */
  id?: string;
}

/**
 * Reads a `pkcs11:` URI given for `flag` (`--certificate`, `--private-key`) into the module, token, PIN and object
 * it names; the module from the URI's `module-path=`, else `lib` (`--pkcs11-lib`). Throws a TypeError naming the
 * flag (never the PIN). Shared by the `aws_signing_helper` command-line reader and the CLI's certificate flags.
 *
 * @example
 * ```ts
 * pkcs11TargetFromUri("--private-key", "pkcs11:token=device;object=key", "/usr/lib/softhsm/libsofthsm2.so").label; // "key"
 * ```
 */
export function pkcs11TargetFromUri(flag: string, uri: string, lib: string | undefined): Pkcs11UriTarget {
  let parsed;
  try {
    parsed = parsePkcs11Uri(uri);
  } catch (err) {
    throw new TypeError(`\`${flag}\`: ${(err as Error).message}`, { cause: err });
  }
  const module = parsed.modulePath ?? lib;
  if (module === undefined) {
    throw new TypeError(
      `\`${flag}\` is a pkcs11: URI: give the module with \`--pkcs11-lib\` (or module-path= in the URI)`,
    );
  }
  return {
    module,
    ...(parsed.slotId !== undefined ? { slot: parsed.slotId } : {}),
    ...(parsed.token !== undefined ? { tokenLabel: parsed.token } : {}),
    ...(parsed.pinValue !== undefined ? { pin: parsed.pinValue } : {}),
    ...(parsed.pinSource !== undefined ? { pinFile: parsed.pinSource } : {}),
    ...(parsed.object !== undefined ? { label: parsed.object } : {}),
    ...(parsed.id !== undefined ? { id: parsed.id } : {}),
  };
}
