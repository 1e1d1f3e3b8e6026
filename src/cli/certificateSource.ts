import { readFile } from "node:fs/promises";
import { parsePkcs11Uri, pkcs11TargetFromUri } from "../certs/pkcs11Uri.js";
import type { IotMethodOptions, RolesAnywhereMethodOptions } from "../session/methods.js";
import { rolesAnywhereInitFromArgv } from "../sources/roles-anywhere.js";
import { KEY_PASSPHRASE_ENV, PKCS11_PIN_ENV } from "./certificateFlags.js";
import type { CertificateSourceInput } from "./sourceInput.js";

/** A certificate source as the session takes it, and how the CLI names it. */
export interface CertificateMethod {
  options: IotMethodOptions | RolesAnywhereMethodOptions;
  kind: "roles-anywhere" | "iot";
  /** One line, with no secret: `IAM Roles Anywhere for arn:… (certificate /etc/pki/cert.pem, trust anchor …)`. */
  description: string;
}

async function passphraseOf(c: CertificateSourceInput, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (c.passphraseFile === undefined) return env[KEY_PASSPHRASE_ENV] || undefined;
  try {
    return (await readFile(c.passphraseFile, "utf8")).replace(/\r?\n$/, "");
  } catch (err) {
    throw new TypeError(
      `\`--passphrase-file\` ${c.passphraseFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      { cause: err },
    );
  }
}

/** The PIN (or its file) for a `pkcs11:` key: the URI's pin-source= first, then --pin-file, then the variable. */
function pinOf(c: CertificateSourceInput, keyUri: string, env: NodeJS.ProcessEnv): { pin?: string; pinFile?: string } {
  if (parsePkcs11Uri(keyUri).pinSource !== undefined) return {};
  if (c.pinFile !== undefined) return { pinFile: c.pinFile };
  const pin = env[PKCS11_PIN_ENV];
  if (pin) return { pin };
  throw new TypeError(
    `\`--private-key\` is a key on a PKCS#11 token: give the token's user PIN in ${PKCS11_PIN_ENV} or with ` +
      "--pin-file FILE (or pin-source=file:/path in the URI); a PIN is never taken from the command line",
  );
}

/**
 * Turns the CLI's certificate flags into the session's `roles-anywhere` or `iot` method options, reading the
 * passphrase (file or AWS_REFRESH_KEY_PASSPHRASE) and finding the PIN (URI, --pin-file or AWS_REFRESH_PKCS11_PIN).
 * IAM Roles Anywhere goes through the library's `aws_signing_helper` command-line reader, so the two spellings of the
 * same flags cannot drift apart. Throws a TypeError naming the flag; never a secret.
 *
 * @example
 * ```ts
 * const { options, description } = await certificateMethod(input.certificate, process.env, input.region);
 * const session = new RefreshableSession(options);
 * ```
 */
export async function certificateMethod(
  c: CertificateSourceInput,
  env: NodeJS.ProcessEnv,
  region: string | undefined,
): Promise<CertificateMethod> {
  const passphrase = await passphraseOf(c, env);
  if (c.method === "roles-anywhere") {
    const flags = new Map(c.helperFlags);
    const certificate = flags.get("--certificate") as string;
    const key = flags.get("--private-key") ?? certificate;
    const pin = /^pkcs11:/i.test(key) ? pinOf(c, key, env) : {};
    const init = rolesAnywhereInitFromArgv(["aws_signing_helper", "credential-process", ...c.helperFlags.flat()], {
      ...pin,
      ...(passphrase !== undefined ? { passphrase } : {}),
    });
    return {
      options: { method: "roles-anywhere", ...init, env },
      kind: "roles-anywhere",
      description:
        `IAM Roles Anywhere for ${init.roleArn} (certificate ${certificate}, trust anchor ` + `${init.trustAnchorArn})`,
    };
  }
  let privateKey: IotMethodOptions["privateKey"] = c.privateKey;
  if (/^pkcs11:/i.test(c.privateKey)) {
    const { label, id: _id, ...target } = pkcs11TargetFromUri("--private-key", c.privateKey, c.pkcs11Lib);
    const pin = pinOf(c, c.privateKey, env);
    privateKey = { pkcs11: { ...target, ...pin, ...(label !== undefined ? { keyLabel: label } : {}) } };
  }
  const options: IotMethodOptions = {
    method: "iot",
    endpoint: c.endpoint,
    roleAlias: c.roleAlias,
    certificate: c.certificate,
    privateKey,
    ...(c.thingName !== undefined ? { thingName: c.thingName } : {}),
    ...(c.intermediates !== undefined ? { intermediates: c.intermediates } : {}),
    ...(c.ca !== undefined ? { ca: c.ca } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(region !== undefined ? { region } : {}),
  };
  let host = c.endpoint;
  try {
    host = new URL(/^https:\/\//i.test(c.endpoint) ? c.endpoint : `https://${c.endpoint}`).host;
  } catch {
    // The source refuses it, naming the flag's option.
  }
  return {
    options,
    kind: "iot",
    description:
      `AWS IoT role alias ${c.roleAlias} at ${host}${c.thingName !== undefined ? ` for thing ${c.thingName}` : ""} ` +
      `(certificate ${c.certificate})`,
  };
}
