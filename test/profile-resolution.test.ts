import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromProfile } from "../src/profiles/fromProfile.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { startEmulator, type Emulator, type KnownCredential } from "../src/testing.js";
import { cleanEnv, TEST_JWT } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import {
  botocore,
  keysLines,
  processJson,
  profileFiles,
  rejection,
  setProcessEnv,
  type BotocoreAnswer,
  type ProfileFiles,
} from "./helpers/profiles.js";

// Which credentials a profile resolves to, and which profiles are refused, compared with what botocore (the AWS CLI
// v1 and boto3, in a child process) does with the very same files.

const boto = interopAvailable("boto3");
const ACCOUNT = "123456789012";
const role = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;
/** A value that must never appear in a message: it stands in the files where a secret would. */
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETMARK";

/** botocore's credential methods, as this library's profile kinds. */
const KIND_OF_METHOD: Record<string, string> = {
  "assume-role": "assume-role",
  "assume-role-with-web-identity": "web-identity",
  sso: "sso",
  "shared-credentials-file": "static",
  "config-file": "static",
  "custom-process": "credential-process",
};

let emu: Emulator;
let files: ProfileFiles;
let restoreEnv: () => void;
/** Static keys the emulator accepts, each its own identity. */
let alice: KnownCredential;
let bob: KnownCredential;
/** What the credential_process commands print. */
let carol: KnownCredential;
let childEnv: NodeJS.ProcessEnv;

const SSO_LINES = "sso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnlyAccess\n";

beforeAll(async () => {
  emu = await startEmulator();
  alice = emu.issueCredential("static", `arn:aws:iam::${ACCOUNT}:user/alice`, "AIDAALICE", 3600);
  bob = emu.issueCredential("static", `arn:aws:iam::${ACCOUNT}:user/bob`, "AIDABOB", 3600);
  carol = emu.issueCredential("process", `arn:aws:iam::${ACCOUNT}:user/carol`, "AIDACAROL", 3600);
  files = profileFiles();
  const token = files.write("token", TEST_JWT);
  const answer = files.write("carol.json", processJson(carol));
  const proc = `credential_process = /bin/cat ${answer}\n`;
  const hang = files.write(
    "hang.sh",
    // Starts a grandchild, says who both are (whole: written aside, then renamed), and waits for ever.
    'sleep 300 &\necho "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"\nwait\n',
  );
  const out = (name: string, text: string): string => `credential_process = /bin/cat ${files.write(name, text)}\n`;
  files.write(
    ".aws/credentials",
    `[cred_keys_over_process]\n${keysLines(alice)}\n` +
      `[sso_over_cred_keys]\n${keysLines(bob)}\n` +
      `[root]\n${keysLines(emu.rootCredentials)}\n` +
      `[only_secret]\naws_secret_access_key = ${SECRET}\n`,
  );
  files.write(
    ".aws/config",
    "# precedence: one profile per rule, each with what would lose to it\n" +
      `[profile role_first]\nrole_arn = ${role("first")}\nsource_profile = root\n${SSO_LINES}${proc}${keysLines(bob)}\n` +
      `[profile web_identity_first]\nrole_arn = ${role("wi")}\nweb_identity_token_file = ${token}\n${SSO_LINES}${proc}${keysLines(bob)}\n` +
      `[profile sso_over_cred_keys]\n${SSO_LINES}${proc}\n` +
      `[profile cred_keys_over_process]\n${proc}\n` +
      `[profile process_over_config_keys]\n${proc}${keysLines(bob)}\n` +
      `[profile config_keys]\n${keysLines(bob)}\n` +
      "# a source profile's own credentials\n" +
      `[profile over_keys_naming_a_role]\nrole_arn = ${role("top_a")}\nsource_profile = keys_naming_a_role\n\n` +
      // Its role would loop back: a source profile with keys is not followed further.
      `[profile keys_naming_a_role]\nrole_arn = ${role("never")}\nsource_profile = over_keys_naming_a_role\n${keysLines(alice)}\n` +
      `[profile over_keys_and_process]\nrole_arn = ${role("top_b")}\nsource_profile = keys_and_process\n\n` +
      `[profile keys_and_process]\nrole_arn = ${role("never")}\nsource_profile = root\n${keysLines(bob)}${proc}\n` +
      `[profile self_keys]\nrole_arn = ${role("self_a")}\nsource_profile = self_keys\n${keysLines(alice)}\n` +
      `[profile self_keys_and_process]\nrole_arn = ${role("self_b")}\nsource_profile = self_keys_and_process\n${keysLines(bob)}${proc}\n` +
      `[profile over_role]\nrole_arn = ${role("top")}\nsource_profile = role_over_root\n\n` +
      `[profile role_over_root]\nrole_arn = ${role("middle")}\nsource_profile = root\n\n` +
      "# errors\n" +
      `[profile loop_a]\nrole_arn = ${role("a")}\nsource_profile = loop_b\n\n` +
      `[profile loop_b]\nrole_arn = ${role("b")}\nsource_profile = loop_c\n\n` +
      `[profile loop_c]\nrole_arn = ${role("c")}\nsource_profile = loop_a\n\n` +
      `[profile missing_source]\nrole_arn = ${role("x")}\nsource_profile = nowhere\n\n` +
      `[profile self_no_keys]\nrole_arn = ${role("x")}\nsource_profile = self_no_keys\n\n` +
      `[profile both_sources]\nrole_arn = ${role("x")}\nsource_profile = root\ncredential_source = Environment\n\n` +
      `[profile bad_credential_source]\nrole_arn = ${role("x")}\ncredential_source = Ec2Metadata\n\n` +
      `[profile bad_role_arn]\nrole_arn = arn:aws:iam::123:role/x\nsource_profile = root\n\n` +
      `[profile short_duration]\nrole_arn = ${role("x")}\nsource_profile = root\nduration_seconds = 100\n\n` +
      `[profile word_duration]\nrole_arn = ${role("x")}\nsource_profile = root\nduration_seconds = 1h\n\n` +
      `[profile mfa_role]\nrole_arn = ${role("x")}\nsource_profile = root\nmfa_serial = arn:aws:iam::${ACCOUNT}:mfa/me\n\n` +
      `[profile only_key_id]\naws_access_key_id = AKIAONLYKEYID0000001\n\n` +
      `[profile only_secret]\nregion = us-east-1\n\n` +
      `[profile login]\nlogin_session = arn:aws:iam::${ACCOUNT}:user/alice\n\n` +
      `[profile login_and_process]\nlogin_session = arn:aws:iam::${ACCOUNT}:user/alice\n${proc}\n` +
      `[profile login_and_config_keys]\nlogin_session = arn:aws:iam::${ACCOUNT}:user/alice\n${keysLines(bob)}\n` +
      "[profile empty]\n\n" +
      `[profile region_only]\nregion = eu-west-1\n\n` +
      "# credential_process failures\n" +
      `[profile hang]\ncredential_process = /bin/sh ${hang} ${files.dir}/hang.pids\n\n` +
      `[profile not_json]\n${out("not-json.txt", `AccessKeyId=AKIANOTJSON SecretAccessKey=${SECRET}\n`)}\n` +
      `[profile version_2]\n${out("v2.json", JSON.stringify({ Version: 2, AccessKeyId: "AKIAV2", SecretAccessKey: SECRET }))}\n` +
      `[profile no_secret]\n${out("nosecret.json", JSON.stringify({ Version: 1, AccessKeyId: "AKIANOSECRET", SessionToken: SECRET }))}\n` +
      `[profile exits_1]\ncredential_process = /bin/sh -c "echo broken >&2; exit 1"\n\n` +
      "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n" +
      "sso_registration_scopes = sso:account:access\n",
  );
  restoreEnv = setProcessEnv({
    ...files.env,
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: emu.region,
    AWS_PROFILE: undefined,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
  });
  childEnv = cleanEnv({ ...files.env, AWS_ENDPOINT_URL: emu.url, AWS_DEFAULT_REGION: emu.region });
});

afterAll(async () => {
  restoreEnv?.();
  await emu?.close();
  files?.remove();
});

/** The access key that signed the last AssumeRole of `roleArn` whose session name starts with `prefix`. */
function assumeRoleSigner(roleArn: string, prefix: string): string | undefined {
  return emu
    .requests("sts:AssumeRole")
    .filter((r) => r.params.RoleArn === roleArn && (r.params.RoleSessionName ?? "").startsWith(prefix))
    .at(-1)?.accessKeyId;
}

describe("precedence: the kind a profile resolves to is the one botocore picks", () => {
  const cases: [profile: string, kind: string, file: "config" | "credentials" | undefined][] = [
    ["role_first", "assume-role", undefined],
    ["web_identity_first", "web-identity", undefined],
    ["sso_over_cred_keys", "sso", undefined],
    ["cred_keys_over_process", "static", "credentials"],
    ["process_over_config_keys", "credential-process", undefined],
    ["config_keys", "static", "config"],
  ];

  it("role_arn first, then web identity, SSO, keys in the credentials file, credential_process, keys in the config file", async () => {
    for (const [profile, kind, file] of cases) {
      const source = fromProfile({ profile });
      try {
        const d = await source.describe();
        expect(d.kind, profile).toBe(kind);
        if (file) expect(d.description, profile).toMatch(new RegExp(`^static keys .*in ${files[file]}$`));
        if (kind === "static" || kind === "credential-process") {
          const expected = kind === "credential-process" ? carol : profile === "cred_keys_over_process" ? alice : bob;
          expect((await source()).accessKeyId, profile).toBe(expected.accessKeyId);
        }
      } finally {
        source.close();
      }
    }
  });

  it.skipIf(!boto.ok)("botocore picks the same kind, and the same keys, for each", async () => {
    const answers = await botocore(
      cases.map(([profile]) => ({ profile })),
      childEnv,
    );
    for (const [i, [profile, kind, file]] of cases.entries()) {
      const a = answers[i] as BotocoreAnswer;
      expect(a.error, `${profile}: ${a.message}`).toBeUndefined();
      expect(KIND_OF_METHOD[a.method ?? ""], profile).toBe(kind);
      if (file) expect(a.method, profile).toBe(file === "config" ? "config-file" : "shared-credentials-file");
      const ours = fromProfile({ profile });
      try {
        if (a.accessKey !== undefined) expect((await ours()).accessKeyId, profile).toBe(a.accessKey);
      } finally {
        ours.close();
      }
    }
  });

  // A role's base credentials, seen from the emulator: which key signed the AssumeRole.
  const bases: [profile: string, roleName: string, signer: () => string, why: string][] = [
    ["over_keys_naming_a_role", "top_a", () => alice.accessKeyId, "a source profile with keys gives them, role or not"],
    ["over_keys_and_process", "top_b", () => carol.accessKeyId, "…resolved as a profile: credential_process first"],
    ["self_keys", "self_a", () => alice.accessKeyId, "a profile may source its own keys"],
    ["self_keys_and_process", "self_b", () => carol.accessKeyId, "…resolved as a profile: credential_process first"],
  ];

  it("a role's base: the source profile's own credentials, resolved as the AWS CLI resolves a profile", async () => {
    for (const [profile, roleName, signer, why] of bases) {
      const session = new RefreshableSession({ method: "profile", profile });
      try {
        await session.getCredentials();
        expect(assumeRoleSigner(role(roleName), "aws-refresh-session-"), `${profile}: ${why}`).toBe(signer());
      } finally {
        session.close();
      }
    }
    // A source profile without keys but with a role is assumed in turn.
    const session = new RefreshableSession({ method: "profile", profile: "over_role" });
    try {
      await session.getCredentials();
      const middle = emu.credential(assumeRoleSigner(role("top"), "aws-refresh-session-") ?? "");
      expect(middle?.arn).toMatch(/assumed-role\/middle\//);
    } finally {
      session.close();
    }
  });

  it.skipIf(!boto.ok)("botocore signs each of those AssumeRole calls with the same base credentials", async () => {
    const answers = await botocore(
      bases.map(([profile]) => ({ profile, frozen: true })),
      childEnv,
    );
    for (const [i, [profile, roleName, signer]] of bases.entries()) {
      const a = answers[i] as BotocoreAnswer;
      expect(a.error, `${profile}: ${a.message}`).toBeUndefined();
      expect(a.method, profile).toBe("assume-role");
      expect(assumeRoleSigner(role(roleName), "botocore-session-"), profile).toBe(signer());
    }
  });
});

/** A case of a profile this library refuses: its code, the words its message must hold, botocore's refusal. */
interface Refusal {
  profile: string;
  code: string;
  words: string[];
  /** The file the message names. */
  file: "config" | "credentials" | "both";
  /** botocore's exception class (or `method: null` when it finds no credentials); undefined: no comparison. */
  botocore?: string | null;
  /** Fetch with botocore (the refusal comes from STS). */
  frozen?: boolean;
  /** The profile the error is about, when not `profile`. */
  errorProfile?: string;
}

const refusals: Refusal[] = [
  {
    profile: "loop_a",
    code: "CONFIG_INVALID",
    words: ["source_profile", "loop_a → loop_b → loop_c → loop_a"],
    file: "config",
    botocore: "InfiniteLoopConfigError",
    errorProfile: "loop_c", // where the loop closes; the message names the whole cycle
  },
  {
    profile: "missing_source",
    code: "PROFILE_NOT_FOUND",
    words: ['"nowhere"', 'the source_profile of "missing_source"'],
    file: "both",
    botocore: "InvalidConfigError",
    errorProfile: "nowhere",
  },
  {
    profile: "self_no_keys",
    code: "CONFIG_INVALID",
    words: ['Profile "self_no_keys"', "`source_profile = self_no_keys`", "names the profile itself"],
    file: "config",
    botocore: "InfiniteLoopConfigError",
  },
  {
    profile: "both_sources",
    code: "CONFIG_INVALID",
    words: ['Profile "both_sources"', "`credential_source = Environment`", "`source_profile`"],
    file: "config",
    botocore: "InvalidConfigError",
  },
  {
    profile: "bad_credential_source",
    code: "CONFIG_INVALID",
    words: ['Profile "bad_credential_source"', "`credential_source = Ec2Metadata`", "Ec2InstanceMetadata"],
    file: "config",
    botocore: "InvalidConfigError",
  },
  {
    profile: "bad_role_arn",
    code: "CONFIG_INVALID",
    words: ['Profile "bad_role_arn"', "`role_arn = arn:aws:iam::123:role/x`", "not an IAM role ARN"],
    file: "config",
    botocore: "ClientError", // STS refuses it (ValidationError)
    frozen: true,
  },
  {
    profile: "short_duration",
    code: "CONFIG_INVALID",
    words: ['Profile "short_duration"', "`duration_seconds = 100`", "900 to 43200"],
    file: "config",
    botocore: "ParamValidationError", // botocore's own check of DurationSeconds
    frozen: true,
  },
  {
    profile: "mfa_role",
    code: "CONFIG_INVALID",
    words: ['Profile "mfa_role"', "`mfa_serial = arn:aws:iam::123456789012:mfa/me`", "tokenCode"],
    file: "config",
    // botocore would prompt on the terminal: nothing to compare with a library that has no terminal.
  },
  {
    profile: "only_key_id",
    code: "CONFIG_INVALID",
    words: ['Profile "only_key_id"', "`aws_access_key_id = AKIAONLYKEYID0000001`", "`aws_secret_access_key`"],
    file: "config",
    botocore: "PartialCredentialsError",
  },
  {
    profile: "only_secret",
    code: "CONFIG_INVALID",
    words: ['Profile "only_secret"', "`aws_secret_access_key` is set without `aws_access_key_id`"],
    file: "credentials",
    botocore: null, // botocore looks for the key id only: no credentials at all
  },
  {
    profile: "empty",
    code: "PROFILE_UNSUPPORTED",
    words: ['Profile "empty"', "holds no credentials", "(it is empty)"],
    file: "config",
    botocore: null,
  },
  {
    profile: "region_only",
    code: "PROFILE_UNSUPPORTED",
    words: ['Profile "region_only"', "holds no credentials", "(it has `region`)"],
    file: "config",
    botocore: null,
  },
  {
    profile: "ghost",
    code: "PROFILE_NOT_FOUND",
    words: ['Profile "ghost"', "Profiles there: ", "config_keys, cred_keys_over_process, empty"],
    file: "both",
    botocore: "ProfileNotFound",
  },
];

describe("refused profiles: a typed error naming the profile, the key and the file, never a secret", () => {
  it("each is refused by describe() and by the first request, with the same code", async () => {
    for (const r of refusals) {
      const session = new RefreshableSession({ method: "profile", profile: r.profile });
      try {
        const err = await rejection(session.describe());
        expect(err.code, r.profile).toBe(r.code);
        for (const w of r.words) expect(err.message, r.profile).toContain(w);
        const named = r.file === "both" ? [files.config, files.credentials] : [files[r.file]];
        for (const f of named) expect(err.message, r.profile).toContain(f);
        expect(err.message, r.profile).not.toContain(SECRET);
        expect(err.profile, r.profile).toBe(r.errorProfile ?? r.profile);
        const onRequest = await rejection(session.getCredentials());
        expect(onRequest.code, r.profile).toBe(r.code);
        expect(onRequest.message, r.profile).toBe(err.message);
      } finally {
        session.close();
      }
    }
  });

  it.skipIf(!boto.ok)("botocore refuses each of them too", async () => {
    const compared = refusals.filter((r) => r.botocore !== undefined);
    const answers = await botocore(
      compared.map((r) => ({ profile: r.profile, ...(r.frozen ? { frozen: true } : {}) })),
      childEnv,
    );
    for (const [i, r] of compared.entries()) {
      const a = answers[i] as BotocoreAnswer;
      if (r.botocore === null) expect(a, r.profile).toEqual({ method: null });
      else expect(a.error, `${r.profile}: ${JSON.stringify(a)}`).toBe(r.botocore);
    }
  });

  it.skipIf(!boto.ok)(
    "botocore picks its login provider over credential_process and config keys, and so does fromProfile",
    async () => {
      for (const profile of ["login", "login_and_process", "login_and_config_keys"]) {
        const source = fromProfile({ profile });
        try {
          expect((await source.describe()).kind, profile).toBe("login");
        } finally {
          source.close();
        }
      }
      const answers = await botocore(
        ["login_and_process", "login_and_config_keys"].map((profile) => ({ profile })),
        childEnv,
      );
      for (const a of answers) expect(`${a.error}: ${a.message}`).toMatch(/login credential provider/);
    },
  );

  it.skipIf(!boto.ok)(
    "duration_seconds that is not a number: refused here, while botocore drops it silently (and asks for 1 h)",
    async () => {
      const err = await rejection(fromProfile({ profile: "word_duration" }).describe());
      expect(err.code).toBe("CONFIG_INVALID");
      expect(err.message).toContain("`duration_seconds = 1h` must be whole seconds from 900 to 43200");
      const [a] = await botocore([{ profile: "word_duration", frozen: true }], childEnv);
      expect(a).toMatchObject({ method: "assume-role" });
      const call = emu
        .requests("sts:AssumeRole")
        .filter((r) => r.params.RoleArn === role("x"))
        .at(-1);
      expect(call?.params.DurationSeconds).toBeUndefined();
    },
  );

  it("says so when neither file exists", async () => {
    const nowhere = `${files.dir}/absent`;
    const err = await rejection(
      fromProfile({
        profile: "dev",
        configFile: `${nowhere}/config`,
        credentialsFile: `${nowhere}/credentials`,
      }).describe(),
    );
    expect(err.code).toBe("PROFILE_NOT_FOUND");
    expect(err.message).toContain(`Neither ${nowhere}/config nor ${nowhere}/credentials exists`);
  });

  it("a bad profile handed over with its files (`config`) fails at construction, naming it", async () => {
    const { loadAwsConfig } = await import("../src/config/awsConfig.js");
    const config = await loadAwsConfig();
    expect(() => new RefreshableSession({ method: "profile", profile: "loop_b", config })).toThrow(
      /loop_b → loop_c → loop_a → loop_b/,
    );
  });
});

/** Whether a process is gone (or a zombie nobody reaps: it runs nothing). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

describe("credential_process failures reach callers typed, naming the profile and the program", () => {
  it("a command that hangs is killed at processTimeoutMs with everything it started", async () => {
    const pids = `${files.dir}/hang.pids`;
    const session = new RefreshableSession({ method: "profile", profile: "hang", processTimeoutMs: 3_000 });
    try {
      const started = Date.now();
      const failing = rejection(session.getCredentials());
      const until = Date.now() + 20_000;
      while (!existsSync(pids) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const [shell, grandchild] = readFileSync(pids, "utf8").trim().split(" ").map(Number) as [number, number];
      expect(gone(shell) || gone(grandchild)).toBe(false); // both running until the deadline
      const err = await failing;
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
      // A source's runtime failure reaches callers as SOURCE_FAILED, the source's own error as its cause.
      expect(err.code).toBe("SOURCE_FAILED");
      expect(err.cause).toMatchObject({ code: "SOURCE_FAILED", profile: "hang", source: "credential_process:hang" });
      expect(err.message).toContain('The credential_process of profile "hang"');
      expect(err.message).toContain(`in ${files.config}`);
      expect(err.message).toContain("(`/bin/sh`) did not finish within 3000 ms and was killed");
      const deadline = Date.now() + 10_000;
      while (!(gone(shell) && gone(grandchild)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect({ shell: gone(shell), grandchild: gone(grandchild) }).toEqual({ shell: true, grandchild: true });
    } finally {
      session.close();
    }
  });

  it("bad output is named without quoting it; a failing command's status is given", async () => {
    const cases: [string, string, string][] = [
      ["not_json", "INVALID_CREDENTIALS", "(`/bin/cat`) printed something that is not JSON"],
      ["version_2", "INVALID_CREDENTIALS", "printed `Version` 2 (only 1 is defined)"],
      ["no_secret", "INVALID_CREDENTIALS", "printed no `SecretAccessKey`"],
      ["exits_1", "SOURCE_FAILED", "(`/bin/sh`) exited with status 1: broken"],
    ];
    for (const [profile, code, words] of cases) {
      const session = new RefreshableSession({ method: "profile", profile });
      try {
        const err = await rejection(session.getCredentials());
        expect(err.code, profile).toBe("SOURCE_FAILED");
        expect(err.cause, profile).toMatchObject({ code, profile });
        expect(err.message, profile).toContain(`profile "${profile}"`);
        expect(err.message, profile).toContain(words);
        expect(err.message, profile).not.toContain(SECRET);
        expect(err.message, profile).not.toContain("AKIA");
      } finally {
        session.close();
      }
    }
  });

  it.skipIf(!boto.ok)("botocore refuses the same outputs", async () => {
    const answers = await botocore(
      ["not_json", "version_2", "no_secret", "exits_1"].map((profile) => ({ profile })),
      childEnv,
    );
    for (const a of answers) expect(a.error, JSON.stringify(a)).toBeDefined();
  });
});

describe("fromProfile: options", () => {
  it("refuses an unknown option, suggesting the one meant", () => {
    expect(() => fromProfile({ profle: "ml" } as never)).toThrow(
      /Unknown option `profle` \(did you mean `profile`\?\)/,
    );
  });
});
