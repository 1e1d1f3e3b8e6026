import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type * as Pkcs11js from "pkcs11js";
import { RefreshSessionError } from "../errors.js";
import { ecdsaP1363ToDer } from "./ecdsaSignature.js";
import { describePkcs11, type Pkcs11Object } from "./pkcs11Options.js";

/**
 * Signing with a key held by a PKCS#11 token (an HSM, a smart card, SoftHSM), and reading a certificate from one,
 * through `pkcs11js`: the thin, maintained binding of the PKCS#11 API itself (graphene-pk11 is built on it). It is an
 * optional dependency, loaded only when a `pkcs11` key or certificate is configured. Its calls are synchronous: a
 * signature takes one short session (open, log in, find, sign, close).
 */

type Pkcs11Module = typeof Pkcs11js;
type Context = { source: string; profile?: string };

/** The npm package that signs through PKCS#11 (IAM Roles Anywhere). */
export const PKCS11JS_PACKAGE = "pkcs11js";

let loading: Promise<Pkcs11Module> | undefined;
const modules = new Map<string, Pkcs11js.PKCS11>();

/** Loads `pkcs11js`, or says which package to install. */
export async function loadPkcs11js(context: Context): Promise<Pkcs11Module> {
  loading ??= import(PKCS11JS_PACKAGE).then((m: Pkcs11Module & { default?: Pkcs11Module }) => m.default ?? m);
  try {
    return await loading;
  } catch (err) {
    loading = undefined;
    throw new RefreshSessionError(
      "PKCS11_FAILED",
      `"${context.source}" uses a PKCS#11 key, which needs the optional package ${PKCS11JS_PACKAGE}: ` +
        `run \`npm install ${PKCS11JS_PACKAGE}\` (it builds a small native module: a C++ compiler and make are needed).`,
      { ...context, cause: err },
    );
  }
}

/** The module loaded and initialised once per process (PKCS#11 modules are initialised once, then shared). */
function moduleFor(lib: Pkcs11Module, o: Pkcs11Object, context: Context): Pkcs11js.PKCS11 {
  const cached = modules.get(o.module);
  if (cached) return cached;
  const p = new lib.PKCS11();
  try {
    p.load(o.module);
  } catch (err) {
    throw new RefreshSessionError(
      "PKCS11_FAILED",
      `Cannot load the PKCS#11 module ${o.module} for "${context.source}": ${(err as Error).message}. ` +
        "Check the path (e.g. /usr/lib/softhsm/libsofthsm2.so, or your token vendor's library).",
      { ...context, cause: err },
    );
  }
  try {
    p.C_Initialize();
  } catch (err) {
    // Another part of the process (aws-crt for IoT) may have initialised it already: that is fine.
    if ((err as { code?: number }).code !== lib.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw pkcs11Error(lib, err, o, "initialise the module", context);
    }
  }
  modules.set(o.module, p);
  return p;
}

/** The user PIN: `pin`, or `pinFile` read afresh (trailing newline dropped). */
export async function readPin(o: Pkcs11Object, context: Context): Promise<string | undefined> {
  if (o.pin !== undefined) return o.pin;
  if (o.pinFile === undefined) return undefined;
  try {
    return (await readFile(o.pinFile, "utf8")).replace(/\r?\n$/, "");
  } catch (err) {
    throw new RefreshSessionError(
      "PKCS11_FAILED",
      `Cannot read the PKCS#11 PIN file ${o.pinFile} of "${context.source}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { ...context, cause: err },
    );
  }
}

function slotNumber(handle: Buffer): number {
  return handle.length >= 8 ? Number(handle.readBigUInt64LE(0)) : handle.readUInt32LE(0);
}

/** A PKCS#11 failure as this library reports it: a wrong or locked PIN apart, the rest `PKCS11_FAILED`. */
function pkcs11Error(lib: Pkcs11Module, err: unknown, o: Pkcs11Object, doing: string, context: Context): Error {
  if (err instanceof RefreshSessionError) return err;
  const code = (err as { code?: number }).code;
  const name = (err as Error).message;
  if (code === lib.CKR_PIN_INCORRECT || code === lib.CKR_PIN_LEN_RANGE) {
    return new RefreshSessionError(
      "PKCS11_PIN_INCORRECT",
      `The PIN of ${describePkcs11(o)} is wrong (${name}) for "${context.source}". Check \`pin\` or the PIN file: ` +
        "tokens lock after a few wrong tries, so the source does not try again until the next refresh.",
      { ...context, cause: err },
    );
  }
  if (code === lib.CKR_PIN_LOCKED || code === lib.CKR_PIN_EXPIRED) {
    return new RefreshSessionError(
      "PKCS11_PIN_INCORRECT",
      `The PIN of ${describePkcs11(o)} is ${code === lib.CKR_PIN_LOCKED ? "locked (too many wrong tries)" : "expired"} ` +
        `(${name}) for "${context.source}": unlock or reset it with the token's administration tool (SO PIN).`,
      { ...context, cause: err },
    );
  }
  return new RefreshSessionError(
    "PKCS11_FAILED",
    `PKCS#11 could not ${doing} with ${describePkcs11(o)} for "${context.source}": ${name}`,
    { ...context, cause: err },
  );
}

function findSlot(p: Pkcs11js.PKCS11, o: Pkcs11Object, context: Context): Buffer {
  const slots = p.C_GetSlotList(true);
  const tokens = slots.map((handle) => ({
    handle,
    id: slotNumber(handle),
    label: p.C_GetTokenInfo(handle).label.trim(),
  }));
  const match = tokens.filter(
    (t) => (o.slot === undefined || t.id === o.slot) && (o.tokenLabel === undefined || t.label === o.tokenLabel),
  );
  // SoftHSM lists an empty, uninitialised token after the real ones: never pick it by default.
  const candidates = o.slot === undefined && o.tokenLabel === undefined ? match.filter((t) => t.label !== "") : match;
  if (candidates.length === 1) return (candidates[0] as { handle: Buffer }).handle;
  const present = tokens.map((t) => `"${t.label}" (slot ${t.id})`).join(", ") || "none";
  throw new RefreshSessionError(
    "PKCS11_FAILED",
    (candidates.length === 0
      ? `No PKCS#11 token matches ${describePkcs11(o)} for "${context.source}"`
      : `Several PKCS#11 tokens match ${describePkcs11(o)} for "${context.source}": set \`tokenLabel\` or \`slot\``) +
      `. Tokens present: ${present}.`,
    context,
  );
}

interface Found {
  handle: Buffer;
  label: string;
  id: Buffer;
}

function findObjects(lib: Pkcs11Module, p: Pkcs11js.PKCS11, session: Buffer, cls: number, o: Pkcs11Object): Found[] {
  const template: Pkcs11js.Template = [{ type: lib.CKA_CLASS, value: cls }];
  if (o.label !== undefined) template.push({ type: lib.CKA_LABEL, value: o.label });
  if (o.id !== undefined) template.push({ type: lib.CKA_ID, value: o.id });
  p.C_FindObjectsInit(session, template);
  const handles = p.C_FindObjects(session, 16);
  p.C_FindObjectsFinal(session);
  return handles.map((handle) => {
    const [label, id] = p.C_GetAttributeValue(session, handle, [{ type: lib.CKA_LABEL }, { type: lib.CKA_ID }]);
    return { handle, label: String(label?.value ?? ""), id: (id?.value as Buffer | undefined) ?? Buffer.alloc(0) };
  });
}

function one(found: Found[], what: string, o: Pkcs11Object, context: Context): Found {
  if (found.length === 1) return found[0] as Found;
  const listed = found.map((f) => `"${f.label}" (id ${f.id.toString("hex")})`).join(", ");
  throw new RefreshSessionError(
    "PKCS11_FAILED",
    found.length === 0
      ? `No ${what} on ${describePkcs11(o)} for "${context.source}". Check the label or id ` +
          "(list the objects with `pkcs11-tool --module … --login --list-objects`)."
      : `Several ${what}s on ${describePkcs11(o)} for "${context.source}": ${listed}. Name one by label or id.`,
    context,
  );
}

async function withSession<T>(
  o: Pkcs11Object,
  doing: string,
  context: Context,
  login: boolean,
  fn: (lib: Pkcs11Module, p: Pkcs11js.PKCS11, session: Buffer, pin: string | undefined) => T,
): Promise<T> {
  const lib = await loadPkcs11js(context);
  const pin = await readPin(o, context);
  const p = moduleFor(lib, o, context);
  let session: Buffer | undefined;
  try {
    const slot = findSlot(p, o, context);
    session = p.C_OpenSession(slot, lib.CKF_SERIAL_SESSION);
    if (login && pin !== undefined) {
      try {
        p.C_Login(session, lib.CKU_USER, pin);
      } catch (err) {
        if ((err as { code?: number }).code !== lib.CKR_USER_ALREADY_LOGGED_IN) throw err;
      }
    }
    return fn(lib, p, session, pin);
  } catch (err) {
    throw pkcs11Error(lib, err, o, doing, context);
  } finally {
    if (session) {
      try {
        p.C_CloseSession(session);
      } catch {
        /* the session is gone either way */
      }
    }
  }
}

/** What {@link pkcs11Sign} returns. */
export interface Pkcs11Signature {
  /** RSA: PKCS#1 v1.5 over SHA-256; EC: DER `Ecdsa-Sig-Value` over SHA-256. */
  signature: Buffer;
  keyType: "RSA" | "EC";
  /** Label of the key that signed (for messages). */
  label: string;
}

/** Signs `data` (SHA-256) with the token's private key: RSA PKCS#1 v1.5, or ECDSA (DER). */
export function pkcs11Sign(o: Pkcs11Object, data: Buffer, context: Context): Promise<Pkcs11Signature> {
  return withSession(o, "sign", context, true, (lib, p, session, pin) => {
    const key = one(findObjects(lib, p, session, lib.CKO_PRIVATE_KEY, o), "private key", o, context);
    const [type, always] = p.C_GetAttributeValue(session, key.handle, [
      { type: lib.CKA_KEY_TYPE },
      { type: lib.CKA_ALWAYS_AUTHENTICATE },
    ]);
    const keyType = (type?.value as Buffer).readUInt32LE(0) === lib.CKK_RSA ? "RSA" : "EC";
    if (keyType === "EC" && (type?.value as Buffer).readUInt32LE(0) !== lib.CKK_EC) {
      throw new RefreshSessionError(
        "PKCS11_FAILED",
        `The private key "${key.label}" on ${describePkcs11(o)} is neither RSA nor EC: it cannot sign for "${context.source}"`,
        context,
      );
    }
    const mustReauth = Buffer.isBuffer(always?.value) && (always.value as Buffer)[0] === 1;
    p.C_SignInit(session, { mechanism: keyType === "RSA" ? lib.CKM_SHA256_RSA_PKCS : lib.CKM_ECDSA }, key.handle);
    // A key marked CKA_ALWAYS_AUTHENTICATE wants the PIN again for each operation (as --reuse-pin does).
    if (mustReauth && pin !== undefined) p.C_Login(session, lib.CKU_CONTEXT_SPECIFIC, pin);
    const input = keyType === "RSA" ? data : createHash("sha256").update(data).digest();
    const raw = p.C_Sign(session, input, Buffer.alloc(1024));
    return { signature: keyType === "RSA" ? raw : ecdsaP1363ToDer(raw), keyType, label: key.label };
  });
}

/** Reads a certificate (DER) from the token. */
export function pkcs11ReadCertificate(o: Pkcs11Object, context: Context): Promise<Buffer> {
  return withSession(o, "read the certificate", context, true, (lib, p, session) => {
    const cert = one(findObjects(lib, p, session, lib.CKO_CERTIFICATE, o), "certificate", o, context);
    const [value] = p.C_GetAttributeValue(session, cert.handle, [{ type: lib.CKA_VALUE }]);
    return value?.value as Buffer;
  });
}
