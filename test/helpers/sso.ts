import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  addSsoServices,
  startEmulator,
  type Emulator,
  type EmulatorOptions,
  type SsoOidcOptions,
  type SsoOidcService,
} from "../../src/testing.js";
import { loadSsoConfig } from "../../src/sso/config.js";
import { deviceLogin, type DeviceLoginResult } from "../../src/sso/login.js";
import { ssoNotifyEnv } from "../../src/sso/notify.js";
import { waitForFile } from "./wait.js";

/**
 * An sso-session profile `profile` on the `corp` session (account 123456789012, ReadOnlyAccess, eu-west-1), with
 * `sessionLines` added to the `[sso-session corp]` section.
 */
export function ssoSessionConfig(profile = "dev", sessionLines = ""): string {
  return `
[profile ${profile}]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = ReadOnlyAccess
region = eu-west-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
${sessionLines}`;
}

/** The AWS config every SSO test uses: an sso-session profile, a legacy one, and broken ones for error tests. */
export const SSO_CONFIG = `${ssoSessionConfig()}
[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = ReadOnlyAccess
region = us-west-2

[profile norole]
sso_session = corp

[profile ghost]
sso_session = nowhere
sso_account_id = 123456789012
sso_role_name = ReadOnlyAccess

[profile static]
aws_access_key_id = AKIAEXAMPLE

[sso-session halfdone]
sso_start_url = https://half.awsapps.com/start

[profile half]
sso_session = halfdone
sso_account_id = 123456789012
sso_role_name = ReadOnlyAccess
`;

/** A temporary HOME with an AWS config, and an emulator with SSO, pointed at by the process environment. */
export interface SsoWorld {
  home: string;
  configFile: string;
  cacheDir: string;
  emu: Emulator;
  oidc: SsoOidcService;
  /** Environment for child processes (boto3, the CLI, workers): temp HOME, config and the emulator's endpoint. */
  env: NodeJS.ProcessEnv;
  /** Approve every device code `delayMs` after it is issued, as a user would. Returns an unsubscriber. */
  approveAll(delayMs?: number): () => void;
  /** Log a profile in through the device flow, approving it at once. */
  login(profile?: string): Promise<DeviceLoginResult>;
  close(): Promise<void>;
}

const SAVED = [
  "HOME",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_ENDPOINT_URL",
  "AWS_PROFILE",
  "AWS_REGION",
];

export async function ssoWorld(
  options: { emulator?: EmulatorOptions; sso?: SsoOidcOptions; config?: string } = {},
): Promise<SsoWorld> {
  const home = mkdtempSync(join(tmpdir(), "sso-home-"));
  mkdirSync(join(home, ".aws"), { recursive: true });
  const configFile = join(home, ".aws", "config");
  writeFileSync(configFile, options.config ?? SSO_CONFIG);
  const emu = await startEmulator(options.emulator ?? {});
  const { oidc } = addSsoServices(emu, { pollIntervalSeconds: 1, ...options.sso });
  const saved = Object.fromEntries(SAVED.map((k) => [k, process.env[k]]));
  process.env.HOME = home;
  process.env.AWS_CONFIG_FILE = configFile;
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(home, ".aws", "credentials");
  process.env.AWS_ENDPOINT_URL = emu.url;
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_REGION;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: join(home, ".aws", "credentials"),
    AWS_ENDPOINT_URL: emu.url,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const approveAll = (delayMs = 50): (() => void) =>
    oidc.onDeviceAuthorization((a) => void setTimeout(() => oidc.approve(a.userCode), delayMs));
  return {
    home,
    configFile,
    cacheDir: join(home, ".aws", "sso", "cache"),
    emu,
    oidc,
    env,
    approveAll,
    async login(profile = "dev") {
      const config = await loadSsoConfig({ profile });
      return deviceLogin({
        config,
        onPrompt: (p) => void setTimeout(() => oidc.approve(p.userCode), 20),
      });
    },
    async close() {
      await emu.close();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The variables a notify command is given (all of them, some possibly empty). */
const NOTIFY_VARIABLES = Object.keys(
  ssoNotifyEnv({
    profile: "p",
    ssoSession: undefined,
    startUrl: "",
    verificationUri: "",
    verificationUriComplete: "",
    userCode: "",
    expiresAt: new Date(0),
    reason: "no-token",
    sessionEndsAt: undefined,
  }),
);

/**
 * What a user does with a notification: waits for the notify command's file of `AWS_REFRESH_SSO_*` lines, then
 * approves (or denies) the code on the verification page. Returns the variables the command was given.
 */
export async function actOnNotification(
  file: string,
  action: "approve" | "deny",
  timeoutMs = 15_000,
): Promise<Record<string, string>> {
  // `env > file` may write in several chunks: wait until every variable the hook sets is there, each line complete.
  const text = await waitForFile(file, {
    timeoutMs,
    what: `a notification in ${file}`,
    complete: (t) => t.endsWith("\n") && NOTIFY_VARIABLES.every((k) => t.startsWith(`${k}=`) || t.includes(`\n${k}=`)),
  });
  const env = Object.fromEntries(
    text
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  ) as Record<string, string>;
  const res = await fetch(env.AWS_REFRESH_SSO_VERIFICATION_URI as string, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ user_code: env.AWS_REFRESH_SSO_USER_CODE as string, action }),
  });
  if (res.status !== 200) throw new Error(`the verification page answered ${res.status}`);
  return env;
}
