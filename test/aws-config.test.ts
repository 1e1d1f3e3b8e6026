import { execFile, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { loadAwsConfig, resolveConfigPaths } from "../src/config/awsConfig.js";
import { fromProfile } from "../src/profiles/fromProfile.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { cleanEnv, CLI, ensureBuilt, ROOT } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import { botocore, profileFiles, rejection, type ProfileFiles } from "./helpers/profiles.js";
import { ssoSessionConfig, ssoWorld, type SsoWorld } from "./helpers/sso.js";

// The AWS config and credentials files: read once, by the SDK's loader, from the paths the SDK would use, and refused
// where botocore (the AWS CLI v1, boto3) refuses them, so that a file this library accepts works in every AWS tool.

const exec = promisify(execFile);
const boto = interopAvailable("boto3");
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETMARK";
const KEYS = `aws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = ${SECRET}\n`;

let files: ProfileFiles | undefined;
let world: SsoWorld | undefined;
afterEach(async () => {
  files?.remove();
  files = undefined;
  await world?.close();
  world = undefined;
});

/** A config file's text, whether we refuse it (and the words of the refusal), and whether botocore does. */
interface IniCase {
  name: string;
  text: string;
  /** Words the CONFIG_INVALID message holds (with the file's path); undefined when the file is accepted. */
  refused?: string[];
  /** Put the text in the credentials file rather than the config file. */
  credentials?: boolean;
}

const VALID = [
  "# a comment",
  "; another comment",
  "",
  "[default]",
  "region = eu-west-1",
  "  # an indented comment",
  "s3 =",
  "  max_concurrent_requests = 20",
  "",
  "  addressing_style = path",
  "output = json",
  "",
  "",
  "[profile dev]",
  "role_arn = arn:aws:iam::123456789012:role/dev",
  "source_profile = default",
  "",
  "[sso-session corp]",
  "sso_start_url = https://corp.awsapps.com/start",
  "sso_region = us-east-1",
  "",
  "[services local]",
  "s3 =",
  "  endpoint_url = http://127.0.0.1:9000",
  "",
].join("\n");

const INI_CASES: IniCase[] = [
  { name: "comments, blank lines and nested blocks", text: VALID },
  { name: "CRLF line ends", text: VALID.replace(/\n/g, "\r\n") },
  {
    name: "a section given twice",
    text: `[profile a]\nregion = us-east-1\n\n[profile a]\n${KEYS}`,
    refused: ["line 4", "section [profile a] is given a second time (first at line 1)"],
  },
  {
    name: "a key given twice",
    text: `[default]\n${KEYS}aws_secret_access_key = ${SECRET}x\n`,
    refused: ["line 4", "in section [default], `aws_secret_access_key` is given a second time (first at line 3)"],
  },
  {
    name: "a key given twice, in another case",
    text: "[default]\nregion = us-east-1\nRegion = eu-west-1\n",
    refused: ["line 3", "`region` is given a second time"],
  },
  {
    name: "a section given twice in the credentials file",
    text: `[default]\n${KEYS}\n[default]\n${KEYS}`,
    credentials: true,
    refused: ["line 5", "section [default] is given a second time (first at line 1)"],
  },
  {
    name: "text before the first section",
    text: `region = us-east-1\n[default]\n${KEYS}`,
    refused: ["line 1", "comes before any [section] header"],
  },
  {
    name: "a line that is neither key = value nor a comment",
    text: `[default]\n${KEYS}this is not a setting\n`,
    refused: ["line 4", "in section [default], this line is neither `key = value` nor a comment"],
  },
  {
    name: "a key given twice at the same indentation (not a continuation)",
    text: "[default]\n  region = us-east-1\n  region = eu-west-1\n",
    refused: ["line 3", "`region` is given a second time (first at line 2)"],
  },
  {
    name: "a key given twice after a deeper continuation",
    text: "[default]\n\tregion = us-east-1\n\t  x = 1\n\tregion = eu-west-1\n",
    refused: ["line 4", "`region` is given a second time (first at line 2)"],
  },
  {
    name: "an indented section header (not in a value)",
    text: `${VALID}[profile empty]\n  [profile indented]\nsource_profile = dev\n`,
  },
  {
    name: "a byte order mark",
    text: `\ufeff${VALID}`,
    refused: ["line 1", "starts with a UTF-8 byte order mark (BOM)"],
  },
  {
    name: "a key without a name",
    text: `[default]\n= ${SECRET}\n`,
    refused: ["line 2", "neither `key = value` nor a comment"],
  },
];

describe("the config files are refused where botocore refuses them", () => {
  it("each file: refused with CONFIG_INVALID naming the file and the line (never a value), or accepted", async () => {
    for (const c of INI_CASES) {
      files = profileFiles(c.credentials ? { credentials: c.text } : { config: c.text });
      const file = c.credentials ? files.credentials : files.config;
      const loading = loadAwsConfig({ env: files.env });
      if (c.refused === undefined) {
        const config = await loading;
        expect(config.exists.config, c.name).toBe(true);
        expect(config.profiles.get("default")?.region, c.name).toBe("eu-west-1");
        expect(config.profiles.get("dev")?.source_profile, c.name).toBe("default");
        expect(config.ssoSessions.get("corp")?.sso_region, c.name).toBe("us-east-1");
      } else {
        const err = await rejection(loading);
        expect(err.code, c.name).toBe("CONFIG_INVALID");
        expect(err.message, c.name).toContain(`${file}, ${c.refused[0]}: `);
        for (const w of c.refused.slice(1)) expect(err.message, c.name).toContain(w);
        expect(err.message, c.name).toContain("The AWS CLI and boto3 refuse this file");
        expect(err.message, c.name).not.toContain(SECRET);
        // A session on any profile of the file fails the same way, on its first use.
        const session = new RefreshableSession({ method: "profile", profile: "default", env: files.env });
        try {
          expect((await rejection(session.getCredentials())).message, c.name).toBe(err.message);
        } finally {
          session.close();
        }
      }
      files.remove();
      files = undefined;
    }
  });

  it.skipIf(!boto.ok)("botocore accepts and refuses the same files", async () => {
    const written = INI_CASES.map((c) => {
      const f = profileFiles(c.credentials ? { credentials: c.text } : { config: c.text });
      return { c, f };
    });
    try {
      const answers = await botocore(
        written.map(({ f }) => ({ profile: "default", env: { ...f.env } })),
        cleanEnv(),
      );
      for (const [i, { c }] of written.entries()) {
        const a = answers[i];
        if (c.refused === undefined) expect(a?.error, `${c.name}: ${a?.message}`).toBeUndefined();
        else expect(a?.error, c.name).toBe("ConfigParseError");
      }
    } finally {
      for (const { f } of written) f.remove();
    }
  });

  it("a config file that is a directory is refused, naming it; botocore does not find the profile there", async () => {
    files = profileFiles({ credentials: "" });
    mkdirSync(files.config);
    const err = await rejection(loadAwsConfig({ env: files.env }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toBe(
      `The AWS config file ${files.config} is a directory, not a file. Point AWS_CONFIG_FILE at the file itself.`,
    );
    if (boto.ok) {
      // botocore takes a directory for a missing file, so the profile is not found: it refuses it too.
      const [a] = await botocore([{ profile: "default" }], cleanEnv(files.env));
      expect(a?.error).toBe("ProfileNotFound");
    }
  });

  const root = process.getuid?.() === 0;
  const nobody = root && spawnSync("id", ["-u", "nobody"], { encoding: "utf8" }).stdout.trim() === "65534";

  it.skipIf(root)("a config file that cannot be read (mode 000) is refused, naming it", async () => {
    files = profileFiles({ config: `[default]\n${KEYS}`, credentials: "" });
    chmodSync(files.config, 0o000);
    const err = await rejection(loadAwsConfig({ env: files.env }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain(`The AWS config file ${files.config} cannot be read (permission denied)`);
    if (boto.ok) {
      // configparser skips a file it cannot open, so botocore does not find the profile: it refuses it too.
      const [a] = await botocore([{ profile: "default" }], cleanEnv(files.env));
      expect(a?.error).toBe("ProfileNotFound");
    }
  });

  // Root reads a file whatever its mode, so as root the check runs in a child process as the user nobody.
  it.skipIf(!root || !nobody)("a config file that cannot be read (mode 000), checked as the user nobody", async () => {
    await ensureBuilt();
    files = profileFiles({ config: `[default]\n${KEYS}`, credentials: "" });
    chmodSync(files.dir, 0o755);
    chmodSync(join(files.dir, ".aws"), 0o755);
    chmodSync(files.credentials, 0o644);
    chmodSync(files.config, 0o000);
    const script =
      `import { loadAwsConfig } from ${JSON.stringify(join(ROOT, "dist/index.js"))};\n` +
      "loadAwsConfig().then(() => console.log('{}'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));\n";
    const out = await exec(process.execPath, ["--input-type=module", "-e", script], {
      env: cleanEnv(files.env),
      cwd: files.dir,
      uid: 65534,
      gid: 65534,
      encoding: "utf8",
    });
    const err = JSON.parse(out.stdout) as { code?: string; message?: string };
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain(`The AWS config file ${files.config} cannot be read (permission denied)`);
  });
  if (root) console.warn("running as root, which reads a file whatever its mode: the mode-000 check runs as nobody");
});

describe("one path resolver, as the SDK's", () => {
  it('AWS_CONFIG_FILE="" and AWS_SHARED_CREDENTIALS_FILE="" mean ~/.aws/config and ~/.aws/credentials everywhere', async () => {
    files = profileFiles({
      config: `${ssoSessionConfig("sso")}\n[profile dev]\n${KEYS}`,
      credentials: "[fromcreds]\naws_access_key_id = AKIAFROMCREDS0000001\naws_secret_access_key = x\n",
    });
    const env = { HOME: files.dir, AWS_CONFIG_FILE: "", AWS_SHARED_CREDENTIALS_FILE: "" };
    expect(resolveConfigPaths({ env })).toEqual({ config: files.config, credentials: files.credentials });
    // The profile resolver…
    const dev = fromProfile({ profile: "dev", env });
    expect(await dev.describe()).toMatchObject({ kind: "static", files: { config: files.config } });
    expect((await fromProfile({ profile: "fromcreds", env }).describe()).description).toBe(
      `static keys in ${files.credentials}`,
    );
    // …the SSO config reader…
    expect((await loadSsoConfig({ profile: "sso", env })).configFile).toBe(files.config);
    // …and the SDK itself, in a child with that environment.
    const script =
      "import { loadSharedConfigFiles, getProfileName } from '@smithy/shared-ini-file-loader';\n" +
      "const { configFile, credentialsFile } = await loadSharedConfigFiles();\n" +
      "console.log(JSON.stringify({ config: Object.keys(configFile), credentials: Object.keys(credentialsFile), profile: getProfileName({}) }));\n";
    const out = await exec(process.execPath, ["--input-type=module", "-e", script], {
      env: cleanEnv({ ...env, AWS_PROFILE: "" }),
      cwd: ROOT,
      encoding: "utf8",
    });
    const sdk = JSON.parse(out.stdout) as { config: string[]; credentials: string[]; profile: string };
    expect(sdk.config.sort()).toEqual(["dev", "sso", "sso-session.corp"].sort());
    expect(sdk.credentials).toEqual(["fromcreds"]);
    expect(sdk.profile).toBe("default");
  });

  it('AWS_PROFILE="" means the default profile, as the SDK has it', async () => {
    files = profileFiles({ config: `[default]\n${KEYS}\n[profile other]\n${KEYS}` });
    const env = { ...files.env, AWS_PROFILE: "" };
    const source = fromProfile({ env });
    expect(source.profile).toBe("default");
    expect((await source.describe()).profile).toBe("default");
    const session = new RefreshableSession({ method: "profile", env });
    try {
      expect((await session.describe()).description).toBe(`profile default: static keys in ${files.config}`);
    } finally {
      session.close();
    }
    expect(fromProfile({ env: { ...env, AWS_PROFILE: "other" } }).profile).toBe("other");
  });

  it("a leading ~/ in a path given is the home directory", async () => {
    files = profileFiles({ config: `[profile dev]\n${KEYS}` });
    writeFileSync(join(files.dir, "elsewhere"), `[profile far]\n${KEYS}`);
    const env = { HOME: files.dir };
    const config = await loadAwsConfig({ env, configFile: "~/elsewhere" });
    expect(config.paths.config).toBe(join(files.dir, "elsewhere"));
    expect([...config.profiles.keys()]).toEqual(["far"]);
  });
});

describe("the config files are read once per session and per CLI command (counted)", () => {
  const PRELOAD = join(__dirname, "helpers/count-config-reads.cjs");

  async function ssoChain(): Promise<SsoWorld> {
    world = await ssoWorld({
      config: `${ssoSessionConfig("sso")}\n[profile over]\nrole_arn = arn:aws:iam::123456789012:role/over\nsource_profile = sso\nrole_session_name = counted\nregion = eu-west-1\n`,
    });
    writeFileSync(join(world.home, ".aws", "credentials"), `[unused]\n${KEYS}`);
    await world.login("sso");
    const s3 = new S3Client({
      region: world.emu.region,
      endpoint: world.emu.url,
      forcePathStyle: true,
      credentials: world.emu.rootCredentials,
    });
    await s3.send(new CreateBucketCommand({ Bucket: "counted" }));
    s3.destroy();
    return world;
  }

  /** Runs node with the counting preload; returns how often each AWS file was opened, and the child's stdout. */
  async function counted(
    w: SsoWorld,
    args: string[],
  ): Promise<{ config: number; credentials: number; stdout: string }> {
    const countFile = join(w.home, "counts.json");
    const env = cleanEnv({
      ...w.env,
      COUNT_PATHS: JSON.stringify([w.env.AWS_CONFIG_FILE, w.env.AWS_SHARED_CREDENTIALS_FILE]),
      COUNT_FILE: countFile,
    });
    const out = await exec(process.execPath, ["--require", PRELOAD, ...args], {
      env,
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    const counts = JSON.parse(readFileSync(countFile, "utf8")) as Record<string, number>;
    return {
      config: counts[w.env.AWS_CONFIG_FILE as string] as number,
      credentials: counts[w.env.AWS_SHARED_CREDENTIALS_FILE as string] as number,
      stdout: out.stdout,
    };
  }

  it("a session on a role over an SSO profile, making S3 and STS requests: one read of each file", async () => {
    await ensureBuilt();
    const w = await ssoChain();
    const script = `
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { RefreshableSession } from ${JSON.stringify(join(ROOT, "dist/index.js"))};
const session = new RefreshableSession({ method: "profile", profile: "over" });
const s3 = session.client(S3Client, { forcePathStyle: true });
await s3.send(new PutObjectCommand({ Bucket: "counted", Key: "k", Body: "v" }));
const body = await (await s3.send(new GetObjectCommand({ Bucket: "counted", Key: "k" }))).Body.transformToString();
const who = await session.whoami();
await session.refresh();
await session.whoami();
const described = await session.describe();
const end = await session.validUntil();
const facts = await session.sourceStatus();
console.log(JSON.stringify({ body, arn: who.Arn, region: await session.region(), described, end: end?.source, facts: facts.length }));
session.close();
`;
    const got = await counted(w, ["--input-type=module", "-e", script]);
    const out = JSON.parse(got.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      body: "v",
      arn: "arn:aws:sts::123456789012:assumed-role/over/counted",
      region: "eu-west-1", // the SDK's clients found the profile's region: from the read already made
      described: { kind: "assume-role" },
      end: "sso",
    });
    expect({ config: got.config, credentials: got.credentials }).toEqual({ config: 1, credentials: 1 });
  });

  it("aws-refresh status --profile over: one read of each file", async () => {
    await ensureBuilt();
    const w = await ssoChain();
    const got = await counted(w, [CLI, "status", "--profile", "over", "--json"]);
    const report = JSON.parse(got.stdout) as { identity: { Arn: string } | null; source: { kind: string } };
    expect(report.identity?.Arn).toBe("arn:aws:sts::123456789012:assumed-role/over/counted");
    expect(report.source.kind).toBe("assume-role");
    expect({ config: got.config, credentials: got.credentials }).toEqual({ config: 1, credentials: 1 });
  });
});
