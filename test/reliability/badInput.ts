/**
 * Bad input, table-driven: AWS config and credentials files, SSO cache files, credential_process output, CLI flags,
 * library options and credential-server requests. Every case plants a canary secret where a secret would be, hashes
 * every file it wrote, runs, and must end in a typed error (a `RefreshSessionError` with a code, a `TypeError` or
 * `RangeError` naming the option, a CLI exit status >= 1 with a message on stderr, a 4xx answer) whose message says
 * what `expect` says, holds no stack trace and no canary, and leaves every file as it was.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { RefreshSessionError } from "../../src/errors.js";
import { fromProfile } from "../../src/profiles/fromProfile.js";
import { refreshable } from "../../src/refresh/refreshable.js";
import { startCredentialServer } from "../../src/server/credentialServer.js";
import { RefreshableSession } from "../../src/session/RefreshableSession.js";
import { fromCustom } from "../../src/sources/custom.js";
import { fromIotCertificate } from "../../src/sources/iot.js";
import { fromCredentialProcess } from "../../src/sources/process.js";
import { fromRolesAnywhere } from "../../src/sources/roles-anywhere.js";
import { fromSso } from "../../src/sources/sso.js";
import { fromAssumeRole } from "../../src/sources/sts.js";
import { fromWebIdentity } from "../../src/sources/web-identity.js";
import { tokenCacheKey } from "../../src/sso/cache.js";
import { cleanEnv, runCli } from "../helpers/cli.js";

/** Where a secret would be: in files, process output, flags. Any output holding it is a leak. */
export const CANARY = "CANARYbadInputSecretDoNotPrint0001wJalrXUtnFEMI";
/** A second canary, for tokens. */
export const CANARY_TOKEN = "CANARYbadInputTokenIQoJb3JpZ2luX2VjDoNotPrint";

/** Nothing listens here: a case that wrongly gets past validation fails fast instead of reaching AWS. */
const CLOSED = "http://127.0.0.1:9";

export type Area =
  | "config file"
  | "credentials file"
  | "SSO cache file"
  | "credential_process output"
  | "CLI flags"
  | "library options"
  | "server requests";

type Outcome =
  | { kind: "error"; error: unknown }
  | { kind: "ok" }
  | { kind: "cli"; code: number | null; signal: string | null; stdout: string; stderr: string }
  | { kind: "http"; status: number; body: string };

/** One case of the table. */
export interface BadInputCase {
  area: Area;
  name: string;
  /** Files written into the case's directory before it runs (relative paths; a trailing `/` makes a directory). */
  files?: Record<string, string>;
  run(dir: string): Promise<Outcome>;
  /** What a clear message says (matched against the error message, or the CLI's stderr, or the answer body). */
  expect: RegExp;
  /** The error's `code` (RefreshSessionError), or `TypeError` / `RangeError`. */
  code?: string;
}

/** A case's verdict. */
export interface BadInputResult {
  area: Area;
  name: string;
  ok: boolean;
  problems: string[];
  /** The code or exit status or HTTP status seen. */
  got: string;
  /** The first line of what the user was told (no secret: checked above). */
  said: string;
}

const ROOT_KEYS = `[profile root]\naws_access_key_id = AKIAIOSFODNN7CANARY1\naws_secret_access_key = ${CANARY}\n`;
const SSO_SESSION = `[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnlyAccess\nregion = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n`;
const SSO_TOKEN_FILE = `sso/cache/${tokenCacheKey("https://corp.awsapps.com/start", "corp")}.json`;
const FUTURE = new Date(Date.now() + 8 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
const PAST = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

async function outcome(fn: () => Promise<unknown> | unknown): Promise<Outcome> {
  try {
    await fn();
    return { kind: "ok" };
  } catch (error) {
    return { kind: "error", error };
  }
}

/** A profile case: `config` (and `credentials`) files, then the profile's source called once. */
function profileCase(
  area: Area,
  name: string,
  profile: string,
  config: string | undefined,
  expect: RegExp,
  code: string,
  extra: { credentials?: string; files?: Record<string, string> } = {},
): BadInputCase {
  return {
    area,
    name,
    files: {
      ...(config !== undefined ? { config } : {}),
      ...(extra.credentials !== undefined ? { credentials: extra.credentials } : {}),
      ...extra.files,
    },
    expect,
    code,
    run: (dir) =>
      outcome(async () => {
        const source = fromProfile({
          profile,
          configFile: join(dir, "config"),
          credentialsFile: join(dir, "credentials"),
          env: { AWS_ENDPOINT_URL: CLOSED, HOME: dir },
          stsClientConfig: { endpoint: CLOSED, maxAttempts: 1 },
          processTimeoutMs: 5_000,
        });
        // Through the engine, as a session uses it; a retryable failure is not retried here.
        const engine = refreshable(source, { firstFetchTimeoutMs: 0 });
        try {
          await engine();
        } finally {
          engine.close();
        }
      }),
  };
}

function ssoCacheCase(name: string, tokenFile: string | undefined, expect: RegExp, code: string, dirInstead = false) {
  return {
    area: "SSO cache file" as const,
    name,
    files: {
      config: SSO_SESSION,
      ...(dirInstead ? { [`${SSO_TOKEN_FILE}/`]: "" } : tokenFile !== undefined ? { [SSO_TOKEN_FILE]: tokenFile } : {}),
      "sso/cache/": "",
    },
    expect,
    code,
    run: (dir: string) =>
      outcome(async () => {
        const source = fromSso({
          profile: "dev",
          configFile: join(dir, "config"),
          cacheDir: join(dir, "sso/cache"),
          env: {},
          autoLogin: false,
          loginTimeoutMs: 1_000,
          oidcClientConfig: { endpoint: CLOSED, maxAttempts: 1 },
          ssoClientConfig: { endpoint: CLOSED, maxAttempts: 1 },
        });
        try {
          await source();
        } finally {
          source.close();
        }
      }),
  };
}

const token = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    startUrl: "https://corp.awsapps.com/start",
    region: "us-east-1",
    accessToken: CANARY_TOKEN,
    expiresAt: FUTURE,
    ...fields,
  });

function processCase(name: string, output: string, expect: RegExp, code: string, command?: string): BadInputCase {
  return {
    area: "credential_process output",
    name,
    files: { "out.txt": output },
    expect,
    code,
    run: (dir) =>
      outcome(async () => {
        const source = fromCredentialProcess({
          command: command?.replace("{dir}", dir) ?? `cat ${join(dir, "out.txt")}`,
          profile: "job",
          env: { PATH: process.env.PATH ?? "" },
          timeoutMs: 5_000,
        });
        const engine = refreshable(source, { firstFetchTimeoutMs: 0 });
        try {
          await engine();
        } finally {
          engine.close();
          source.close();
        }
      }),
  };
}

const creds = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    Version: 1,
    AccessKeyId: "ASIACANARYPROCESS001",
    SecretAccessKey: CANARY,
    SessionToken: CANARY_TOKEN,
    Expiration: FUTURE,
    ...fields,
  });

function cliCase(name: string, args: string[], expect: RegExp, files: Record<string, string> = {}): BadInputCase {
  return {
    area: "CLI flags",
    name,
    files: {
      config: `${ROOT_KEYS}\n[profile job]\nrole_arn = arn:aws:iam::123456789012:role/job\nsource_profile = root\n`,
      credentials: "",
      ...files,
    },
    expect,
    run: async (dir) => {
      const r = await runCli(
        args.map((a) => a.replace("{dir}", dir)),
        {
          env: cleanEnv({
            HOME: dir,
            AWS_CONFIG_FILE: join(dir, "config"),
            AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
            AWS_ENDPOINT_URL: CLOSED,
          }),
          timeoutMs: 30_000,
        },
      );
      return { kind: "cli", ...r };
    },
  };
}

function optionCase(name: string, fn: () => unknown, expect: RegExp, code: "TypeError" | "RangeError"): BadInputCase {
  return { area: "library options", name, expect, code, run: () => outcome(fn) };
}

const noop = async () => ({ accessKeyId: "AKIA", secretAccessKey: CANARY });

/** The whole table. */
export function badInputCases(): BadInputCase[] {
  const job = (body: string): string => `${ROOT_KEYS}\n[profile job]\n${body}\n`;
  const cases: BadInputCase[] = [
    // AWS config file
    profileCase(
      "config file",
      "the config file does not exist",
      "job",
      undefined,
      /config|profile/i,
      "PROFILE_NOT_FOUND",
    ),
    profileCase("config file", "the config file is a directory", "job", undefined, /director/i, "CONFIG_INVALID", {
      files: { "config/": "" },
    }),
    profileCase(
      "config file",
      "binary garbage instead of INI",
      "job",
      "\u0000\u0001\u0002PK\u0003\u0004\u00ff",
      /config/i,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "duplicate [profile job] sections",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/a\nsource_profile = root\n\n[profile job]\nregion = us-east-1"),
      /second time|duplicate/i,
      "CONFIG_INVALID",
    ),
    profileCase("config file", "the profile is not in the file", "nope", ROOT_KEYS, /nope/, "PROFILE_NOT_FOUND"),
    profileCase(
      "config file",
      "role_arn without source_profile or credential_source",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job"),
      /source_profile|credential_source/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "source_profile names a missing profile",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = ghost"),
      /ghost/,
      "PROFILE_NOT_FOUND",
    ),
    profileCase(
      "config file",
      "a source_profile loop",
      "a",
      `[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = a\n`,
      /loop|cycle|circular/i,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "role_arn is not an ARN",
      "job",
      job("role_arn = not-an-arn\nsource_profile = root"),
      /role_arn|ARN/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "both source_profile and credential_source",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = root\ncredential_source = Environment"),
      /source_profile.*credential_source|credential_source.*source_profile/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "credential_source names no known source",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\ncredential_source = Bogus"),
      /credential_source|Bogus/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "web_identity_token_file does not exist",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nweb_identity_token_file = /nonexistent/token"),
      /\/nonexistent\/token/,
      "SOURCE_FAILED",
    ),
    profileCase(
      "config file",
      "web_identity_token_file without role_arn",
      "job",
      job("web_identity_token_file = /nonexistent/token"),
      /role_arn with web_identity_token_file/,
      "PROFILE_UNSUPPORTED",
    ),
    profileCase(
      "config file",
      "sso_session names a missing section",
      "job",
      job("sso_session = nowhere\nsso_account_id = 123456789012\nsso_role_name = R"),
      /nowhere/,
      "SSO_CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "an SSO profile without sso_role_name",
      "dev",
      SSO_SESSION.replace("sso_role_name = ReadOnlyAccess\n", ""),
      /sso_role_name/,
      "SSO_CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "legacy sso_start_url without sso_region",
      "job",
      job("sso_start_url = https://x.awsapps.com/start\nsso_account_id = 123456789012\nsso_role_name = R"),
      /sso_region/,
      "SSO_CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "an access key without its secret",
      "job",
      job("aws_access_key_id = AKIAIOSFODNN7CANARY2\naws_session_token = " + CANARY_TOKEN),
      /aws_secret_access_key/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "a secret without its access key",
      "job",
      job(`aws_secret_access_key = ${CANARY}`),
      /aws_access_key_id/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "duration_seconds is not a number",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = root\nduration_seconds = soon"),
      /duration_seconds/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "duration_seconds below STS's 900",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = root\nduration_seconds = 10"),
      /duration_seconds|900/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "credential_process is empty",
      "job",
      job("credential_process ="),
      /credential_process/,
      "PROFILE_UNSUPPORTED",
    ),
    profileCase(
      "config file",
      "a line without `=` in a section",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = root\nthis line is garbage"),
      /line|garbage|parse/i,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "an unterminated section header",
      "job",
      `${ROOT_KEYS}\n[profile job\nregion = us-east-1\n`,
      /section|\[|line/i,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "a key before any section",
      "job",
      `region = us-east-1\n${ROOT_KEYS}`,
      /section|line/i,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "a profile with nothing that gives credentials",
      "job",
      job("region = us-east-1\noutput = json"),
      /job/,
      "PROFILE_UNSUPPORTED",
    ),
    profileCase(
      "config file",
      "role_session_name with forbidden characters",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = root\nrole_session_name = bad name!"),
      /role_session_name/,
      "CONFIG_INVALID",
    ),
    profileCase(
      "config file",
      "a self-referencing role profile",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = job"),
      /job/,
      "CONFIG_INVALID",
    ),
    // AWS credentials file
    profileCase(
      "credentials file",
      "the credentials file is a directory",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = base"),
      /director/i,
      "CONFIG_INVALID",
      { files: { "credentials/": "" } },
    ),
    profileCase(
      "credentials file",
      "duplicate sections in the credentials file",
      "base",
      "",
      /second time|duplicate/i,
      "CONFIG_INVALID",
      {
        credentials: `[base]\naws_access_key_id = AKIAIOSFODNN7CANARY3\naws_secret_access_key = ${CANARY}\n[base]\naws_access_key_id = AKIAIOSFODNN7CANARY4\n`,
      },
    ),
    profileCase(
      "credentials file",
      "a key id without its secret",
      "base",
      "",
      /aws_secret_access_key/,
      "CONFIG_INVALID",
      { credentials: "[base]\naws_access_key_id = AKIAIOSFODNN7CANARY5\n" },
    ),
    profileCase("credentials file", "a secret without its key id", "base", "", /aws_access_key_id/, "CONFIG_INVALID", {
      credentials: `[base]\naws_secret_access_key = ${CANARY}\n`,
    }),
    profileCase(
      "credentials file",
      "a session token alone",
      "base",
      "",
      /aws_access_key_id with aws_secret_access_key/,
      "PROFILE_UNSUPPORTED",
      { credentials: `[base]\naws_session_token = ${CANARY_TOKEN}\n` },
    ),
    profileCase("credentials file", "binary garbage", "base", "", /credentials/i, "CONFIG_INVALID", {
      credentials: "\u0000\u0001\u00ffgarbage",
    }),
    profileCase("credentials file", "a line without `=`", "base", "", /line|parse/i, "CONFIG_INVALID", {
      credentials: `[base]\naws_access_key_id = AKIAIOSFODNN7CANARY6\n${CANARY}\n`,
    }),
    profileCase(
      "credentials file",
      "source_profile only in a missing credentials file",
      "job",
      job("role_arn = arn:aws:iam::123456789012:role/job\nsource_profile = base"),
      /base/,
      "PROFILE_NOT_FOUND",
    ),
    // SSO cache files
    ssoCacheCase("no token file at all", undefined, /log ?in/i, "SSO_LOGIN_REQUIRED"),
    ssoCacheCase("the token file is empty", "", /cache|token/i, "SSO_CACHE_INVALID"),
    ssoCacheCase("the token file is not JSON", `accessToken=${CANARY_TOKEN}`, /cache|JSON/i, "SSO_CACHE_INVALID"),
    ssoCacheCase("the token file is truncated JSON", token({}).slice(0, 40), /cache|JSON/i, "SSO_CACHE_INVALID"),
    ssoCacheCase(
      "the token file is a JSON array",
      JSON.stringify([CANARY_TOKEN]),
      /cache|object/i,
      "SSO_CACHE_INVALID",
    ),
    ssoCacheCase("the token file is JSON null", "null", /cache|object/i, "SSO_CACHE_INVALID"),
    ssoCacheCase("accessToken is missing", token({ accessToken: undefined }), /accessToken/, "SSO_CACHE_INVALID"),
    ssoCacheCase("accessToken is a number", token({ accessToken: 42 }), /accessToken/, "SSO_CACHE_INVALID"),
    ssoCacheCase("expiresAt is not a date", token({ expiresAt: "tomorrow-ish" }), /expiresAt/, "SSO_CACHE_INVALID"),
    ssoCacheCase("expiresAt is missing", token({ expiresAt: undefined }), /expiresAt/, "SSO_CACHE_INVALID"),
    ssoCacheCase(
      "an expired token without refresh token",
      token({ expiresAt: PAST }),
      /log ?in|expired/i,
      "SSO_LOGIN_REQUIRED",
    ),
    ssoCacheCase(
      "an expired token whose refresh token is not a string",
      token({ expiresAt: PAST, refreshToken: 7, clientId: "c", clientSecret: CANARY, registrationExpiresAt: FUTURE }),
      /refreshToken|log ?in|cache/i,
      "SSO_CACHE_INVALID",
    ),
    ssoCacheCase("the token file path is a directory", undefined, /director|cache/i, "SSO_CACHE_INVALID", true),
    ssoCacheCase("a UTF-8 BOM and trailing garbage", `\ufeff${token({})}}}}`, /cache|JSON/i, "SSO_CACHE_INVALID"),
    // credential_process output
    processCase("empty output", "", /credential_process|output|JSON/i, "SOURCE_FAILED"),
    processCase("not JSON", `AccessKeyId=ASIA SecretAccessKey=${CANARY}`, /JSON/i, "SOURCE_FAILED"),
    processCase("a JSON array", JSON.stringify([CANARY]), /object|JSON/i, "SOURCE_FAILED"),
    processCase("Version 2", creds({ Version: 2 }), /Version/, "SOURCE_FAILED"),
    processCase("Version missing", creds({ Version: undefined }), /Version/, "SOURCE_FAILED"),
    processCase("AccessKeyId missing", creds({ AccessKeyId: undefined }), /AccessKeyId/, "SOURCE_FAILED"),
    processCase("SecretAccessKey missing", creds({ SecretAccessKey: undefined }), /SecretAccessKey/, "SOURCE_FAILED"),
    processCase("AccessKeyId is a number", creds({ AccessKeyId: 12345 }), /AccessKeyId/, "SOURCE_FAILED"),
    processCase("Expiration is not a date", creds({ Expiration: "later" }), /Expiration/, "SOURCE_FAILED"),
    processCase("Expiration in the past", creds({ Expiration: PAST }), /expired/i, "SOURCE_FAILED"),
    processCase("JSON followed by garbage", `${creds({})}\ntrailing garbage`, /JSON/i, "SOURCE_FAILED"),
    processCase(
      "the command exits 1, printing a secret on stderr",
      "",
      /exit|status|1/i,
      "SOURCE_FAILED",
      `sh -c "echo 'SecretAccessKey: ${CANARY}' >&2; exit 1"`,
    ),
    processCase("the command exits 0, printing nothing", "", /printed nothing/i, "SOURCE_FAILED", "true"),
    processCase(
      "the command does not exist",
      "",
      /not found|ENOENT|no-such-command/i,
      "SOURCE_FAILED",
      "/nonexistent/no-such-command --flag",
    ),
    processCase("the command is not executable", "", /EACCES|permission|execut/i, "SOURCE_FAILED", "{dir}/out.txt"),
    processCase(
      "the command is killed by a signal",
      "",
      /signal|SIGKILL|killed/i,
      "SOURCE_FAILED",
      `sh -c "kill -9 $$"`,
    ),
    processCase(
      "a huge output (8 MiB)",
      "",
      /output|large|buffer|MiB|bytes/i,
      "SOURCE_FAILED",
      `sh -c "head -c 8388608 /dev/zero | tr '\\\\0' a"`,
    ),
    processCase("unbalanced quotes in the command", "", /quote|command/i, "CONFIG_INVALID", `cat "unterminated`),
    // CLI flags
    cliCase(
      "--duration is not a duration",
      ["exec", "--profile", "job", "--role-arn", "arn:aws:iam::123456789012:role/x", "--duration", "abc", "--", "true"],
      /--duration/,
    ),
    cliCase(
      "--duration 0",
      ["exec", "--profile", "job", "--role-arn", "arn:aws:iam::123456789012:role/x", "--duration", "0", "--", "true"],
      /--duration/,
    ),
    cliCase(
      "--duration past STS's maximum",
      [
        "exec",
        "--profile",
        "job",
        "--role-arn",
        "arn:aws:iam::123456789012:role/x",
        "--duration",
        "100h",
        "--",
        "true",
      ],
      /--duration/,
    ),
    cliCase(
      '--role-arn "" (an unset variable)',
      ["exec", "--profile", "job", "--role-arn", "", "--", "true"],
      /--role-arn/,
    ),
    cliCase(
      "--role-arn that is not an ARN",
      ["exec", "--profile", "job", "--role-arn", "role/job", "--", "true"],
      /--role-arn|ARN/,
    ),
    cliCase('--region ""', ["exec", "--profile", "job", "--region", "", "--", "true"], /--region/),
    cliCase(
      "--mfa-duration below 15 minutes",
      ["exec", "--profile", "job", "--mfa-duration", "1m", "--", "true"],
      /--mfa-duration/,
    ),
    cliCase(
      "--login-timeout is not a duration",
      ["exec", "--profile", "job", "--login-timeout", "forever", "--", "true"],
      /--login-timeout/,
    ),
    cliCase("--require is not a duration", ["exec", "--profile", "job", "--require", "zz", "--", "true"], /--require/),
    cliCase("--port 70000", ["serve", "--profile", "job", "--lazy", "--port", "70000"], /--port/),
    cliCase("--port -1", ["serve", "--profile", "job", "--lazy", "--port", "-1"], /--port/),
    cliCase("--port abc", ["serve", "--profile", "job", "--lazy", "--port", "abc"], /--port/),
    cliCase(
      "--host 0.0.0.0 (every interface)",
      ["serve", "--profile", "job", "--lazy", "--host", "0.0.0.0"],
      /--host|loopback/,
    ),
    cliCase("--host example.com", ["serve", "--profile", "job", "--lazy", "--host", "example.com"], /--host|loopback/),
    cliCase(
      "--env-file is a directory",
      ["serve", "--profile", "job", "--lazy", "--env-file", "{dir}/envdir"],
      /env|director/i,
      { "envdir/": "" },
    ),
    cliCase(
      "--token-file in a directory that is a file",
      ["serve", "--profile", "job", "--lazy", "--token-file", "{dir}/afile/token"],
      /token|director|afile/i,
      { afile: "x" },
    ),
    cliCase(
      "--min-ttl is not a duration",
      ["credential-process", "--profile", "job", "--min-ttl", "soon"],
      /--min-ttl/,
    ),
    cliCase(
      "--cache-dir is a file",
      ["credential-process", "--profile", "job", "--cache-dir", "{dir}/afile"],
      /cache|afile|director/i,
      { afile: "x" },
    ),
    cliCase("an unknown option", ["exec", "--profile", "job", "--bogus", "--", "true"], /--bogus|unknown option/i),
    cliCase("an unknown command", ["explode"], /unknown command|explode/i),
    cliCase("exec without a command", ["exec", "--profile", "job"], /command/i),
    cliCase('--profile ""', ["status", "--profile", ""], /--profile|profile/i),
    cliCase("--profile that does not exist", ["status", "--profile", "nope"], /nope/),
    cliCase("status on a config with duplicate sections", ["status", "--profile", "job"], /second time|duplicate/i, {
      config: `${ROOT_KEYS}\n[profile job]\nregion = us-east-1\n[profile job]\nregion = us-west-2\n`,
    }),
    cliCase(
      "--mfa-serial that is not an ARN",
      ["exec", "--profile", "job", "--mfa-serial", "x y", "--", "true"],
      /--mfa-serial|mfa/i,
    ),
    cliCase("emulate --port abc", ["emulate", "--port", "abc"], /--port/),
    // library options
    optionCase("refreshable(null)", () => refreshable(null as never), /`source`/, "TypeError"),
    optionCase(
      "refreshable option typo `advisory`",
      () => refreshable(noop, { advisory: 1 } as never),
      /`advisory`.*`advisoryMs`/,
      "TypeError",
    ),
    optionCase(
      "refreshable option typo `regoin`",
      () => refreshable(noop, { regoin: "x" } as never),
      /`regoin`/,
      "TypeError",
    ),
    optionCase("advisoryMs negative", () => refreshable(noop, { advisoryMs: -1 }), /`advisoryMs`/, "RangeError"),
    optionCase(
      "mandatoryMs above advisoryMs",
      () => refreshable(noop, { advisoryMs: 10, mandatoryMs: 20 }),
      /`mandatoryMs`/,
      "RangeError",
    ),
    optionCase("jitter 2", () => refreshable(noop, { jitter: 2 }), /`jitter`/, "RangeError"),
    optionCase('mode "lazy"', () => refreshable(noop, { mode: "lazy" as never }), /`mode`/, "TypeError"),
    optionCase("clock without now()", () => refreshable(noop, { clock: {} as never }), /`clock`/, "TypeError"),
    optionCase("sourceTimeoutMs 0", () => refreshable(noop, { sourceTimeoutMs: 0 }), /`sourceTimeoutMs`/, "RangeError"),
    optionCase(
      'session method "nope"',
      () => new RefreshableSession({ method: "nope" } as never),
      /`method`|nope/,
      "TypeError",
    ),
    optionCase(
      "session option typo `regoin`",
      () =>
        new RefreshableSession({
          method: "sts",
          assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/x" },
          regoin: "x",
        } as never),
      /`regoin`/,
      "TypeError",
    ),
    optionCase("fromAssumeRole without assumeRole", () => fromAssumeRole({} as never), /`assumeRole`/, "TypeError"),
    optionCase(
      "fromCredentialProcess with an empty command",
      () => fromCredentialProcess({ command: "" }),
      /`command`/,
      "TypeError",
    ),
    optionCase(
      "fromCredentialProcess timeoutMs -1",
      () => fromCredentialProcess({ command: "true", timeoutMs: -1 }),
      /`timeoutMs`/,
      "RangeError",
    ),
    optionCase("fromWebIdentity roleArn 5", () => fromWebIdentity({ roleArn: 5 as never }), /`roleArn`/, "TypeError"),
    optionCase(
      "fromIotCertificate with nothing",
      () => fromIotCertificate({} as never),
      /`endpoint`|`roleAlias`|`certificate`/,
      "TypeError",
    ),
    optionCase(
      "fromRolesAnywhere with nothing",
      () => fromRolesAnywhere({} as never),
      /`trustAnchorArn`|`profileArn`|`roleArn`|`certificate`/,
      "TypeError",
    ),
    optionCase("fromSso profile 5", () => fromSso({ profile: 5 as never }), /`profile`/, "TypeError"),
    optionCase('fromCustom("x")', () => fromCustom("x" as never), /`source`|function/, "TypeError"),
    optionCase("fromProfile typo `profle`", () => fromProfile({ profle: "x" } as never), /`profle`/, "TypeError"),
    {
      area: "library options",
      name: "startCredentialServer on 0.0.0.0",
      expect: /`host`.*loopback/,
      code: "RangeError",
      run: () => outcome(() => startCredentialServer({ profiles: { job: noop }, host: "0.0.0.0" })),
    },
    {
      area: "library options",
      name: "startCredentialServer with a short token",
      expect: /`token`/,
      code: "TypeError",
      run: () => outcome(() => startCredentialServer({ profiles: { job: noop }, token: "short" })),
    },
    {
      area: "library options",
      name: "startCredentialServer with a token holding CRLF",
      expect: /`token`/,
      code: "TypeError",
      run: () => outcome(() => startCredentialServer({ profiles: { job: noop }, token: `${"a".repeat(40)}\r\nX: y` })),
    },
    {
      area: "library options",
      name: "startCredentialServer profile name with a slash",
      expect: /`profiles`/,
      code: "TypeError",
      run: () => outcome(() => startCredentialServer({ profiles: { "a/b": noop } })),
    },
  ];
  // Server requests: each against one shared server, answered 4xx without the credential.
  const serverRequests: [string, string, Record<string, string>, RegExp][] = [
    ["no Authorization", "/profiles/job", {}, /MissingToken/],
    ["a wrong token", "/profiles/job", { authorization: "0".repeat(64) }, /InvalidToken/],
    ["the token as a query parameter", "/profiles/job?token={token}", {}, /MissingToken/],
    ["an unknown profile", "/profiles/other", { authorization: "{token}" }, /NotFound/],
    ["an encoded slash in the profile", "/profiles/job%2F..%2Fmetrics", { authorization: "{token}" }, /NotFound/],
    ["a bad percent-encoding", "/profiles/%E0%A4%A", { authorization: "{token}" }, /NotFound/],
    ["a rebinding Host", "/profiles/job", { authorization: "{token}", host: "evil.example.com" }, /InvalidHost/],
  ];
  for (const [name, path, headers, expect] of serverRequests) {
    cases.push({
      area: "server requests",
      name,
      expect,
      run: async () => ({ kind: "http", ...(await serverRequest(path, headers)) }),
    });
  }
  return cases;
}

let shared: Awaited<ReturnType<typeof startCredentialServer>> | undefined;
async function serverRequest(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  shared ??= await startCredentialServer({
    profiles: {
      job: async () => ({
        accessKeyId: "ASIACANARY",
        secretAccessKey: CANARY,
        sessionToken: CANARY_TOKEN,
        expiration: new Date(Date.now() + 3_600_000),
      }),
    },
  });
  const { request } = await import("node:http");
  const fill = (s: string): string => s.replace("{token}", (shared as NonNullable<typeof shared>).token);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: (shared as NonNullable<typeof shared>).port,
        path: fill(path),
        headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, fill(v)])),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Hashes every file under `dir` (content and mode), so a case can prove it changed nothing. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.set(`${p}/`, String(st.mode));
        walk(p);
      } else out.set(p, `${st.mode}:${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    }
  };
  walk(dir);
  return out;
}

const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

async function judge(c: BadInputCase): Promise<BadInputResult> {
  const dir = mkdtempSync(join(tmpdir(), "ars-bad-"));
  const problems: string[] = [];
  let got = "";
  let said = "";
  try {
    for (const [rel, content] of Object.entries(c.files ?? {})) {
      const p = join(dir, rel);
      if (rel.endsWith("/")) mkdirSync(p, { recursive: true });
      else {
        mkdirSync(join(p, ".."), { recursive: true });
        writeFileSync(p, content, { mode: 0o600 });
      }
    }
    const before = snapshot(dir);
    const o = await c.run(dir);
    let texts: string[] = [];
    if (o.kind === "ok") problems.push("accepted");
    else if (o.kind === "error") {
      const e = o.error;
      if (e instanceof RefreshSessionError) got = e.code;
      else if (e instanceof TypeError || e instanceof RangeError) got = e.name;
      else {
        got = e instanceof Error ? `untyped ${e.name}` : `thrown ${typeof e}`;
        problems.push(`not a typed error: ${got}`);
      }
      if (c.code !== undefined && got !== c.code) problems.push(`expected ${c.code}, got ${got}`);
      const message = e instanceof Error ? e.message : String(e);
      if (!c.expect.test(message)) problems.push(`message does not say ${c.expect}: ${message.slice(0, 300)}`);
      if (STACK.test(message)) problems.push("a stack trace in the message");
      texts = [message, inspect(e, { depth: 6 })];
      said = message;
    } else if (o.kind === "cli") {
      got = o.signal ? `signal ${o.signal}` : `exit ${o.code}`;
      if (o.signal !== null || o.code === null || o.code === 0 || o.code > 125) problems.push(`ended with ${got}`);
      // Diagnostics go to stderr; `status` prints its report (problems included) on stdout.
      if (!c.expect.test(o.stderr + o.stdout))
        problems.push(`output does not say ${c.expect}: ${o.stderr.slice(0, 300)}`);
      if (STACK.test(o.stderr) || STACK.test(o.stdout)) problems.push("a stack trace in the output");
      texts = [o.stdout, o.stderr];
      said = (o.stderr.trim() || o.stdout.trim()).split("\n")[0] ?? "";
    } else {
      got = `HTTP ${o.status}`;
      if (o.status < 400 || o.status >= 500) problems.push(`answered ${o.status}`);
      if (!c.expect.test(o.body)) problems.push(`body does not say ${c.expect}`);
      texts = [o.body];
      said = o.body;
    }
    if (texts.some((t) => t.includes(CANARY) || t.includes(CANARY_TOKEN))) problems.push("a canary secret was printed");
    const after = snapshot(dir);
    for (const [p, h] of before)
      if (after.get(p) !== h) problems.push(`${p.slice(dir.length + 1)} changed or vanished`);
  } catch (err) {
    problems.push(`the case itself crashed: ${(err as Error).message}`);
  } finally {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
  const secretFree = problems.includes("a canary secret was printed") ? "(withheld: it held a canary)" : said;
  return { area: c.area, name: c.name, ok: problems.length === 0, problems, got, said: secretFree };
}

/** Runs the table, `concurrency` cases at a time. */
export async function runBadInput(concurrency: number): Promise<BadInputResult[]> {
  const cases = badInputCases();
  const results: BadInputResult[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < cases.length) {
        const i = next++;
        results[i] = await judge(cases[i] as BadInputCase);
      }
    }),
  );
  await shared?.close();
  shared = undefined;
  return results;
}
