import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
// From the testing entry: the emulator's own module layout may change under it.
import type { Emulator } from "../testing.js";
import { startIotCredentialsEndpoint, type IotCredentialsEndpoint } from "../emulator/iot.js";
import { addRolesAnywhere } from "../emulator/rolesanywhere.js";
import { createTestCa } from "../emulator/testCa.js";
import { writeSecretFile } from "../util/secretFile.js";

/** The role alias `aws-refresh emulate` creates. */
export const EMULATOR_ROLE_ALIAS = "emulator-role-alias";
/** The thing `aws-refresh emulate` attaches to the device certificate it writes. */
export const EMULATOR_THING_NAME = "emulator-thing";

/** Options of {@link startCertificateEndpoints}. */
export interface CertificateEndpointsOptions {
  /** Where to write the test CA, certificates and keys. Default: a new temporary directory, removed at close. */
  certsDir?: string;
  /** PEM files of CA certificates to trust as well (IoT device CAs, Roles Anywhere trust anchor), for your own. */
  trustCa?: string[];
  /** Loopback address of the IoT endpoint (HTTPS, its own port). Default 127.0.0.1. */
  host?: string;
  /** Port of the IoT endpoint. Default 0 (any free port). */
  port?: number;
}

/** What a user needs to point the certificate flags at the emulator: endpoints, ARNs and the files written. */
export interface CertificateEndpointsInfo {
  certsDir: string;
  /** The test root CA (PEM file): the trust anchor and the IoT device CA. */
  caCertificate: string;
  rolesAnywhere: {
    endpoint: string;
    trustAnchorArn: string;
    profileArn: string;
    roleArn: string;
    certificate: string;
    privateKey: string;
    intermediates: string;
  };
  iot: {
    endpoint: string;
    /** The CA of the endpoint's TLS certificate, for `--ca`. */
    ca: string;
    roleAlias: string;
    roleArn: string;
    thingName: string;
    certificate: string;
    privateKey: string;
  };
}

/**
 * Adds IAM Roles Anywhere (on the emulator's port) and AWS IoT's credentials provider (HTTPS with client
 * certificates, on a port of its own) to a running emulator, with a test CA made for them, and writes the CA, a Roles
 * Anywhere host certificate (under an intermediate) and an IoT device certificate with their keys (mode 0600).
 *
 * @example
 * ```ts
 * const emu = await startEmulator();
 * const certs = await startCertificateEndpoints(emu, { certsDir: "./emulator-certs" });
 * // certs.info.rolesAnywhere.trustAnchorArn, certs.info.iot.endpoint, …
 * await certs.close();
 * ```
 */
export async function startCertificateEndpoints(
  emu: Emulator,
  options: CertificateEndpointsOptions = {},
): Promise<{ info: CertificateEndpointsInfo; iot: IotCredentialsEndpoint; close(): Promise<void> }> {
  const extra: string[] = [];
  for (const file of options.trustCa ?? []) {
    let pem: string;
    try {
      pem = await readFile(file, "utf8");
    } catch (err) {
      throw new TypeError(`\`--trust-ca\` ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`, {
        cause: err,
      });
    }
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    try {
      for (const block of blocks) extra.push(new X509Certificate(block).toString());
    } catch (err) {
      throw new TypeError(`\`--trust-ca\` ${file} holds a certificate that does not parse`, { cause: err });
    }
    if (blocks.length === 0) throw new TypeError(`\`--trust-ca\` ${file} holds no PEM certificate`);
  }
  const made = options.certsDir === undefined;
  const dir = made ? await mkdtemp(join(tmpdir(), "aws-refresh-emulate-")) : resolvePath(options.certsDir as string);
  const root = await createTestCa({ commonName: "aws-refresh emulate test root" });
  const sub = await root.intermediate({ commonName: "aws-refresh emulate intermediate" });
  const host = await sub.leaf({ commonName: "emulator-host" });
  const device = await root.leaf({ commonName: EMULATOR_THING_NAME });
  const raRole = `arn:aws:iam::${emu.accountId}:role/emulator-rolesanywhere`;
  const iotRole = `arn:aws:iam::${emu.accountId}:role/emulator-iot`;
  const ra = addRolesAnywhere(emu, {
    trustAnchors: [{ certificates: [root.certificate, ...extra] }],
    profiles: [{ roleArns: [raRole] }],
  });
  const iot = await startIotCredentialsEndpoint(emu, {
    trustedCas: [root.certificate, ...extra],
    roleAliases: { [EMULATOR_ROLE_ALIAS]: { roleArn: iotRole } },
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  iot.attachThing(EMULATOR_THING_NAME, device.certificate);
  const write = async (name: string, content: string): Promise<string> => {
    const path = join(dir, name);
    await writeSecretFile(path, content);
    return path;
  };
  const info: CertificateEndpointsInfo = {
    certsDir: dir,
    caCertificate: await write("ca.pem", root.certificate),
    rolesAnywhere: {
      endpoint: emu.url,
      trustAnchorArn: ra.trustAnchorArns[0] as string,
      profileArn: ra.profileArns[0] as string,
      roleArn: raRole,
      certificate: await write("host.pem", host.certificate),
      privateKey: await write("host.key", host.privateKey),
      intermediates: await write("intermediates.pem", host.chain),
    },
    iot: {
      endpoint: iot.url,
      ca: await write("iot-server-ca.pem", iot.serverCa),
      roleAlias: EMULATOR_ROLE_ALIAS,
      roleArn: iotRole,
      thingName: EMULATOR_THING_NAME,
      certificate: await write("device.pem", device.certificate),
      privateKey: await write("device.key", device.privateKey),
    },
  };
  return {
    info,
    iot,
    close: async () => {
      await iot.close();
      if (made) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The lines `aws-refresh emulate` prints about the certificate endpoints: the flags to give, with the files.
 *
 * @example
 * ```ts
 * process.stdout.write(certificateEndpointsText(certs.info));
 * ```
 */
export function certificateEndpointsText(info: CertificateEndpointsInfo): string {
  const r = info.rolesAnywhere;
  const i = info.iot;
  return (
    `# IAM Roles Anywhere at ${r.endpoint}/sessions; trust anchor: the test CA ${info.caCertificate}\n` +
    `#   aws-refresh exec --endpoint ${r.endpoint} --trust-anchor-arn ${r.trustAnchorArn} \\\n` +
    `#     --profile-arn ${r.profileArn} --role-arn ${r.roleArn} \\\n` +
    `#     --certificate ${r.certificate} --intermediates ${r.intermediates} --private-key ${r.privateKey} -- COMMAND\n` +
    `# AWS IoT credentials provider at ${i.endpoint} (role alias ${i.roleAlias} for ${i.roleArn})\n` +
    `#   aws-refresh exec --iot-endpoint ${i.endpoint} --ca ${i.ca} --role-alias ${i.roleAlias} \\\n` +
    `#     --thing-name ${i.thingName} --certificate ${i.certificate} --private-key ${i.privateKey} -- COMMAND\n` +
    `# Certificates and keys (test only) are in ${info.certsDir}.\n`
  );
}
