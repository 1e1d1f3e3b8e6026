/**
 * One rig per credential source kind, each against its own emulator (its own clock offset, faults and counters), so
 * the kinds can run side by side. Every rig builds the real source the library ships, pointed at the emulator; the
 * emulator's clock is the engine's clock, so moving it moves the engine into a window without sleeping.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { fromCredentialProcess } from "../../src/sources/process.js";
import { fromCustom } from "../../src/sources/custom.js";
import { fromIotCertificate } from "../../src/sources/iot.js";
import { fromRolesAnywhere } from "../../src/sources/roles-anywhere.js";
import { fromSso } from "../../src/sources/sso.js";
import { fromAssumeRole } from "../../src/sources/sts.js";
import { fromWebIdentity } from "../../src/sources/web-identity.js";
import { loadSsoConfig } from "../../src/sso/config.js";
import { deviceLogin } from "../../src/sso/login.js";
import type { CredentialSource } from "../../src/types.js";
import {
  addRolesAnywhere,
  addSsoServices,
  createTestCa,
  startEmulator,
  startIotCredentialsEndpoint,
  type Emulator,
} from "../../src/testing.js";
import { TEST_JWT } from "../helpers/cli.js";

/** Every source kind the matrix covers. */
export const SOURCE_KINDS = [
  "sts",
  "web-identity",
  "sso",
  "credential_process",
  "iot",
  "roles-anywhere",
  "custom",
] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** Lifetime of the credentials the rigs' emulators issue: short enough that every window stays within the 15 minutes
 * of signature skew AWS (and the emulator) tolerate between the real clock the SDK signs with and the moved one. */
export const RIG_LIFETIME_SECONDS = 600;

const ROLE = "arn:aws:iam::123456789012:role/reliability";

/** A source of one kind, ready to wrap in an engine. */
export interface Rig {
  kind: SourceKind;
  emu: Emulator;
  /** The emulator operation the source calls: where faults go. */
  operation: string;
  source: CredentialSource;
  /**
   * The deadline of one source call, for the engine and the source itself. A credential_process starts a Node.js
   * process per call, which takes seconds on a loaded 2-core machine: it gets PROCESS_DEADLINE_FACTOR times the
   * others'.
   */
  timeoutMs: number;
  close(): Promise<void>;
}

/** How many times the matrix's deadline a source that spawns a process per call gets. */
export const PROCESS_DEADLINE_FACTOR = 4;

/**
 * A credential_process helper: trades a web identity token for credentials at the emulator's STS (unsigned, so it
 * needs no SDK) and prints them in the process format. Every emulator fault on sts:AssumeRoleWithWebIdentity reaches
 * it as it would reach any real helper.
 */
const PROCESS_HELPER = `
const [url, jwt] = process.argv.slice(2);
const body = new URLSearchParams({ Action: "AssumeRoleWithWebIdentity", Version: "2011-06-15",
  RoleArn: "${ROLE}", RoleSessionName: "process-helper", WebIdentityToken: jwt });
const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } });
const text = await res.text();
if (res.status !== 200) { console.error("STS answered " + res.status + " " + (/<Code>([^<]*)/.exec(text)?.[1] ?? "")); process.exit(1); }
const get = (k) => new RegExp("<" + k + ">([^<]*)</" + k + ">").exec(text)?.[1];
const id = get("AccessKeyId");
if (!id) { console.error("STS answered something that is not a credential"); process.exit(1); }
const unxml = (s) => s.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'");
console.log(JSON.stringify({ Version: 1, AccessKeyId: id, SecretAccessKey: unxml(get("SecretAccessKey")),
  SessionToken: unxml(get("SessionToken")), Expiration: get("Expiration") }));
`;

/** Starts the emulator (and whatever the kind needs) and builds the source. */
export async function startRig(kind: SourceKind, options: { timeoutMs: number }): Promise<Rig> {
  const timeoutMs = kind === "credential_process" ? options.timeoutMs * PROCESS_DEADLINE_FACTOR : options.timeoutMs;
  const emu = await startEmulator({ credentialLifetimeSeconds: RIG_LIFETIME_SECONDS });
  const dir = mkdtempSync(join(tmpdir(), `ars-rig-${kind}-`));
  const closers: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const sts = { endpoint: emu.url };
  let operation = "sts:AssumeRole";
  let source: CredentialSource;
  switch (kind) {
    case "sts":
      source = fromAssumeRole({
        assumeRole: { RoleArn: ROLE, RoleSessionName: "reliability" },
        sourceCredentials: async () => emu.rootCredentials,
        region: emu.region,
        stsClientConfig: sts,
      });
      break;
    case "web-identity":
      operation = "sts:AssumeRoleWithWebIdentity";
      source = fromWebIdentity({
        roleArn: ROLE,
        webIdentityToken: async () => TEST_JWT,
        roleSessionName: "reliability",
        region: emu.region,
        stsClientConfig: sts,
        env: {},
      });
      break;
    case "credential_process": {
      operation = "sts:AssumeRoleWithWebIdentity";
      const helper = join(dir, "helper.mjs");
      writeFileSync(helper, PROCESS_HELPER);
      source = fromCredentialProcess({
        command: `"${process.execPath}" "${helper}" ${emu.url} ${TEST_JWT}`,
        env: { PATH: process.env.PATH ?? "" },
        timeoutMs,
      });
      break;
    }
    case "custom": {
      const client = new STSClient({ region: emu.region, endpoint: emu.url, credentials: emu.rootCredentials });
      closers.push(() => client.destroy());
      source = fromCustom(
        async function assumeReliabilityRole() {
          const out = await client.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: "custom" }));
          const c = out.Credentials;
          if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error("AssumeRole answered without credentials");
          return {
            accessKeyId: c.AccessKeyId,
            secretAccessKey: c.SecretAccessKey,
            ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
            ...(c.Expiration ? { expiration: c.Expiration } : {}),
          };
        },
        { name: "custom" },
      );
      break;
    }
    case "iot": {
      const iot = await startIotCredentialsEndpoint(emu);
      closers.push(() => iot.close());
      operation = iot.operation;
      const leaf = await (iot.deviceCa as NonNullable<typeof iot.deviceCa>).leaf({ commonName: "reliability-thing" });
      iot.attachThing("reliability-thing", leaf.certificate);
      writeFileSync(join(dir, "device.pem"), leaf.certificate + leaf.chain, { mode: 0o600 });
      writeFileSync(join(dir, "device.key"), leaf.privateKey, { mode: 0o600 });
      source = fromIotCertificate({
        endpoint: iot.url,
        ca: iot.serverCa,
        roleAlias: "emulator-role-alias",
        thingName: "reliability-thing",
        certificate: join(dir, "device.pem"),
        privateKey: join(dir, "device.key"),
        region: emu.region,
        timeoutMs,
      });
      break;
    }
    case "roles-anywhere": {
      const root = await createTestCa({ commonName: "reliability root" });
      const ra = addRolesAnywhere(emu, {
        trustAnchors: [{ certificates: [root.certificate] }],
        profiles: [{ roleArns: [ROLE] }],
      });
      operation = ra.operation;
      const leaf = await root.leaf({ commonName: "reliability-host" });
      writeFileSync(join(dir, "host.pem"), leaf.certificate, { mode: 0o600 });
      writeFileSync(join(dir, "host.key"), leaf.privateKey, { mode: 0o600 });
      source = fromRolesAnywhere({
        trustAnchorArn: ra.trustAnchorArns[0] as string,
        profileArn: ra.profileArns[0] as string,
        roleArn: ROLE,
        certificate: join(dir, "host.pem"),
        privateKey: join(dir, "host.key"),
        endpoint: emu.url,
        env: {},
        timeoutMs,
      });
      break;
    }
    case "sso": {
      const { oidc } = addSsoServices(emu, { pollIntervalSeconds: 1 });
      operation = "sso:GetRoleCredentials";
      const configFile = join(dir, "config");
      writeFileSync(
        configFile,
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnlyAccess\n" +
          "region = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n" +
          "sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
      );
      const cacheDir = join(dir, "sso-cache");
      const env = { AWS_CONFIG_FILE: configFile };
      await deviceLogin({
        config: await loadSsoConfig({ profile: "dev", configFile, env }),
        cacheDir,
        oidcClientConfig: { endpoint: emu.url },
        onPrompt: (p) => void setTimeout(() => oidc.approve(p.userCode), 10),
        keepAlive: false,
      });
      const sso = fromSso({
        profile: "dev",
        configFile,
        cacheDir,
        env,
        autoLogin: false,
        oidcClientConfig: { endpoint: emu.url },
        ssoClientConfig: { endpoint: emu.url },
        clock: { now: () => emu.now() },
      });
      closers.push(() => sso.close?.());
      source = sso;
      break;
    }
  }
  return {
    kind,
    emu,
    operation,
    source,
    timeoutMs,
    async close() {
      for (const c of closers.reverse()) await c();
      await emu.close();
    },
  };
}
