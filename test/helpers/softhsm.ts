import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata";
import { X509Certificate as PeculiarCertificate } from "@peculiar/x509";
import { fileDir, type FileDir } from "./certs.js";

/** Where Debian's softhsm2 package puts the PKCS#11 module. */
export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

/** A SoftHSM2 token in a private directory, for this test process. */
export interface SoftHsmToken {
  readonly label: string;
  readonly pin: string;
  /** The slot id SoftHSM gave the token. */
  readonly slot: number;
  readonly dir: FileDir;
  /** Imports a PEM private key (as softhsm2-util does: it cannot leave the token afterwards). */
  importKey(privateKeyPem: string, label: string, idHex: string): void;
  /** Writes a certificate object onto the token. */
  importCertificate(certificatePem: string, label: string, idHex: string): void;
  /** Another token in the same SoftHSM store (PKCS#11 logins are per token: a fresh one is not logged in yet). */
  addToken(label: string, pin: string): SoftHsmToken;
}

/**
 * Makes a SoftHSM2 token. Sets SOFTHSM2_CONF for this process: call it before the PKCS#11 module is first loaded
 * (vitest runs each test file in its own process).
 */
export function softHsmToken(label = "test-token", pin = "pin-4729"): SoftHsmToken {
  const dir = fileDir("ars-softhsm-");
  const tokens = join(dir.dir, "tokens");
  execFileSync("mkdir", ["-p", tokens]);
  const conf = dir.write(
    "softhsm2.conf",
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  return initToken(dir, { ...process.env, SOFTHSM2_CONF: conf }, label, pin);
}

function initToken(dir: FileDir, env: NodeJS.ProcessEnv, label: string, pin: string): SoftHsmToken {
  const out = execFileSync(
    "softhsm2-util",
    ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "so-pin-9876"],
    { env, encoding: "utf8" },
  );
  const slot = Number(/slot (\d+)/.exec(out)?.[1]);
  return {
    label,
    pin,
    slot,
    dir,
    importKey(privateKeyPem, keyLabel, idHex) {
      const pkcs8 = createPrivateKey(privateKeyPem).export({ type: "pkcs8", format: "pem" }) as string;
      const file = join(dir.dir, `import-${keyLabel}.p8`);
      writeFileSync(file, pkcs8, { mode: 0o600 });
      execFileSync(
        "softhsm2-util",
        ["--import", file, "--token", label, "--label", keyLabel, "--id", idHex, "--pin", pin],
        { env, encoding: "utf8" },
      );
      execFileSync("rm", ["-f", file]);
    },
    importCertificate(certificatePem, certLabel, idHex) {
      const cert = new PeculiarCertificate(certificatePem);
      execFileSync(
        process.execPath,
        [
          join(import.meta.dirname, "softhsm-write-cert.mjs"),
          SOFTHSM_MODULE,
          label,
          pin,
          certLabel,
          idHex,
          Buffer.from(cert.rawData).toString("hex"),
          Buffer.from(cert.subjectName.toArrayBuffer()).toString("hex"),
        ],
        { env, encoding: "utf8" },
      );
    },
    addToken: (other, otherPin) => initToken(dir, env, other, otherPin),
  };
}
