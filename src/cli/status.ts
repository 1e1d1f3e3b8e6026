import { errorMessage, RefreshSessionError } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import { redactKeyId } from "../refresh/redact.js";
import { EXEC_MARKER_ENV } from "../server/childEnvironment.js";
import type { CallerIdentity } from "../session/RefreshableSession.js";
import type { SourceStatusItem } from "../session/methods.js";
import { runParsed, type CliCommand } from "./runner.js";
import { parseDuration, formatDuration } from "../util/duration.js";
import { defaultProfileShadow, skewWarning } from "./warnings.js";
import { probeIdentity } from "./identity.js";
import { resolveConfigPaths } from "../config/awsConfig.js";
import { oneShotInput, resolveSource, type ResolvedSource, type SourceInput, type SourceKind } from "./profile.js";
import { checkRequirement, formatRequirement } from "./requirement.js";
import { sourceInputFrom, type SourceFlags } from "./sourceOptions.js";

/** An underlying session (SSO, MFA) ending sooner than this is reported as a problem. */
export const SESSION_END_WARNING_MS = 60 * 60_000;

/** Input of {@link runStatus}. */
export interface StatusInput {
  source: SourceInput;
  json?: boolean;
  /** Also check that the source can keep credentials valid this long (ms). */
  requireMs?: number;
}

/** What `status` needs from its surroundings. */
export interface StatusDeps {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Something wrong, and what to do about it. */
export interface StatusProblem {
  what: string;
  fix: string;
}

/** An environment variable that changes which credentials programs get. Values are never shown. */
export interface StatusEnvironmentItem {
  name: string;
  effect: string;
}

/** What `status --json` prints. Holds no secret (the key id shows as `****` plus its last 4 characters). */
export interface StatusReport {
  profile: string | null;
  source: { kind: SourceKind | null; description: string | null; name: string | null };
  configFiles: { config: string; credentials: string };
  credentials: {
    ok: boolean;
    accessKeyId: string | null;
    expiration: string | null;
    expiresInSeconds: number | null;
    error: string | null;
  };
  identity: CallerIdentity | null;
  clock: { skewSeconds: number | null; basis: string };
  sessionEnd: { at: string; inSeconds: number; basis: string } | null;
  require: { seconds: number; ok: boolean } | null;
  environment: StatusEnvironmentItem[];
  sourceFacts: SourceStatusItem[];
  notes: string[];
  problems: StatusProblem[];
  ok: boolean;
}

const KEY_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"];

/** Environment variables that decide which credentials programs get, and the problems they cause for `profile`. */
export function environmentFindings(
  env: NodeJS.ProcessEnv,
  profile: string | undefined,
  kind: SourceKind | undefined,
): { items: StatusEnvironmentItem[]; problems: StatusProblem[] } {
  const items: StatusEnvironmentItem[] = [];
  const problems: StatusProblem[] = [];
  const keys = KEY_VARS.filter((v) => env[v]);
  if (keys.length) {
    items.push({
      name: keys.join(", "),
      effect: `static keys (${redactKeyId(env.AWS_ACCESS_KEY_ID)}): SDKs and the AWS CLI use them before any profile chosen with AWS_PROFILE`,
    });
    if (profile) {
      problems.push({
        what: `${keys.join(", ")} ${keys.length > 1 ? "are" : "is"} set: a program told to use profile "${profile}" through AWS_PROFILE gets these keys instead`,
        fix: `unset ${KEY_VARS.join(" ")}`,
      });
    }
  }
  for (const v of ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]) {
    const value = env[v];
    if (!value) continue;
    items.push({ name: v, effect: `programs run without --profile use profile "${value}"` });
    if (profile && value !== profile && !(v === "AWS_DEFAULT_PROFILE" && env.AWS_PROFILE)) {
      problems.push({
        what: `${v}=${value}: programs run without --profile use profile "${value}", not "${profile}"`,
        fix: `export AWS_PROFILE=${profile} (or unset ${v})`,
      });
    }
  }
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) {
    items.push({
      name: env.AWS_CONTAINER_CREDENTIALS_FULL_URI
        ? "AWS_CONTAINER_CREDENTIALS_FULL_URI"
        : "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
      effect: env[EXEC_MARKER_ENV]
        ? `running under aws-refresh exec (serving ${env[EXEC_MARKER_ENV]}): programs with no keys or profile get credentials from it`
        : "programs with no keys or profile get credentials from this container endpoint",
    });
  }
  if (env.AWS_ROLE_ARN && env.AWS_WEB_IDENTITY_TOKEN_FILE) {
    items.push({
      name: "AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE",
      effect: "web identity: botocore uses it before static-key and credential_process profiles",
    });
    if (profile && (kind === "static" || kind === "credential-process")) {
      problems.push({
        what: `AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are set: boto3 and the AWS CLI use web identity instead of profile "${profile}"`,
        fix: "unset AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE",
      });
    }
  }
  for (const v of ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]) {
    if (env[v]) items.push({ name: v, effect: `profiles are read from ${env[v]}` });
  }
  for (const v of Object.keys(env).filter((k) => k === "AWS_ENDPOINT_URL" || k.startsWith("AWS_ENDPOINT_URL_"))) {
    items.push({ name: v, effect: `requests go to ${env[v]}, not to AWS` });
  }
  return { items, problems };
}

/** Builds the status report for a source: fetches a credential, calls STS and checks everything it can. */
export async function statusReport(input: StatusInput, env: NodeJS.ProcessEnv): Promise<StatusReport> {
  const problems: StatusProblem[] = [];
  const notes: string[] = [];
  const report: StatusReport = {
    profile: input.source.profile ?? null,
    source: { kind: null, description: null, name: null },
    configFiles: resolveConfigPaths({ env }),
    credentials: { ok: false, accessKeyId: null, expiration: null, expiresInSeconds: null, error: null },
    identity: null,
    clock: { skewSeconds: null, basis: "Date header of an STS GetCallerIdentity answer" },
    sessionEnd: null,
    require: null,
    environment: [],
    sourceFacts: [],
    notes,
    problems,
    ok: false,
  };
  let resolved: ResolvedSource | undefined;
  try {
    resolved = await resolveSource(oneShotInput(input.source), { env });
  } catch (err) {
    report.credentials.error = errorMessage(err);
    problems.push({
      what: `the source cannot be set up: ${errorMessage(err)}`,
      fix:
        err instanceof RefreshSessionError && err.code === "PROFILE_NOT_FOUND"
          ? "check the profile name (aws configure list-profiles), or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE"
          : "fix the profile in the config file named above",
    });
  }
  const envFindings = environmentFindings(env, input.source.profile ?? resolved?.profile, resolved?.kind);
  report.environment = envFindings.items;
  problems.push(...envFindings.problems);
  if (!resolved) return finish(report);
  try {
    report.profile = resolved.profile ?? null;
    report.source = { kind: resolved.kind, description: resolved.description, name: resolved.name };
    const now = Date.now();
    try {
      const creds = await resolved.session.credentials();
      report.credentials = {
        ok: true,
        accessKeyId: redactKeyId(creds.accessKeyId),
        expiration: creds.expiration ? creds.expiration.toISOString() : null,
        expiresInSeconds: creds.expiration ? Math.round((creds.expiration.getTime() - Date.now()) / 1000) : null,
        error: null,
      };
    } catch (err) {
      report.credentials.error = errorMessage(err);
      problems.push({ what: `no credentials: ${errorMessage(err)}`, fix: fixFor(err, resolved) });
    }
    if (report.credentials.ok) {
      const probe = await probeIdentity(resolved.session, resolved.region);
      if (probe.identity) report.identity = probe.identity;
      else {
        problems.push({
          what: `STS refused the credentials: ${probe.error ?? "no identity returned"}`,
          fix: "the keys or session may have been revoked or expired early: refresh them at their source",
        });
      }
      if (probe.skewMs !== undefined) {
        report.clock.skewSeconds = Math.round(probe.skewMs / 1000);
        const skew = skewWarning(probe.skewMs);
        if (skew) {
          problems.push({
            what: skew,
            fix: "synchronize the clock with NTP (e.g. `sudo timedatectl set-ntp true`, or `sudo sntp -sS time.aws.com`)",
          });
        }
      }
      const end = await resolved.session.validUntil();
      if (end) {
        const left = end.at.getTime() - Date.now();
        report.sessionEnd = { at: end.at.toISOString(), inSeconds: Math.round(left / 1000), basis: end.basis };
        if (left < SESSION_END_WARNING_MS && input.requireMs === undefined) {
          const certificate = resolved.kind === "roles-anywhere" || resolved.kind === "iot";
          problems.push({
            what: certificate
              ? `${end.basis} ${describeTime(end.at, now)}: no credential can be had with it after that`
              : `${end.basis} ${describeTime(end.at, now)}: jobs started now need a new login or code within the hour`,
            fix:
              resolved.kind === "sso"
                ? `log in again now: ${ssoLogin(resolved.profile)}`
                : certificate
                  ? "renew the certificate and write it to the same place (it is read again at every refresh)"
                  : end.source === "login"
                    ? `sign in again now: \`aws login${resolved.profile && resolved.profile !== "default" ? ` --profile ${resolved.profile}` : ""}\``
                    : "start a new session (a new MFA code) before long jobs",
          });
        }
      }
      if (input.requireMs !== undefined) {
        const check = await checkRequirement(resolved, input.requireMs, {
          notify: input.source.notify !== undefined,
          end,
        });
        report.require = { seconds: Math.round(input.requireMs / 1000), ok: check.ok };
        if (check.problem && check.fix) problems.push({ what: check.problem, fix: check.fix });
        if (check.note) notes.push(check.note);
      }
    }
    try {
      report.sourceFacts = await resolved.session.sourceStatus();
    } catch (err) {
      notes.push(`the source could not report on itself: ${errorMessage(err)}`);
    }
    for (const fact of report.sourceFacts) {
      if (fact.problem) problems.push({ what: `${fact.label}: ${String(fact.value)}`, fix: fact.problem });
    }
    const shadow = defaultProfileShadow(resolved.config);
    if (shadow && resolved.profile !== "default") notes.push(`for aws-refresh exec and serve: ${shadow}`);
  } finally {
    resolved.close();
  }
  return finish(report);
}

/**
 * What to do about a failed fetch, by what failed: a login only when a login is what is missing; for a mistake in the
 * config or a cache file, fixing that (logging in again would not help).
 */
function fixFor(err: unknown, resolved: ResolvedSource): string {
  const code = err instanceof RefreshSessionError ? err.code : undefined;
  const cause = err instanceof RefreshSessionError ? (err.cause as { code?: unknown } | undefined)?.code : undefined;
  const c =
    code === "SOURCE_FAILED" || code === "CREDENTIALS_EXPIRED" ? (typeof cause === "string" ? cause : code) : code;
  switch (c) {
    case "SSO_LOGIN_REQUIRED":
      return `log in: ${ssoLogin(resolved.profile)}`;
    case "SSO_CACHE_INVALID":
      return `delete the cache file named above, then log in: ${ssoLogin(resolved.profile)}`;
    case "SSO_CONFIG_INVALID":
    case "CONFIG_INVALID":
    case "PROFILE_NOT_FOUND":
    case "PROFILE_UNSUPPORTED":
      return `fix the profile in ${resolved.files.config} as the message says (logging in again would not help)`;
    case "LOGIN_REQUIRED":
    case "LOGIN_CACHE_INVALID":
      return `sign in again: aws login${resolved.profile && resolved.profile !== "default" ? ` --profile ${resolved.profile}` : ""}`;
    case "MFA_FAILED":
      return "check the MFA device and the --mfa-command (or the terminal it prompts on)";
    default:
      return "check the source's own credentials (keys, login, token file, certificate) and that its endpoint is reachable";
  }
}

/** The commands that log an SSO profile in; ours first, as it records the login time session-end predictions use. */
function ssoLogin(profile: string | undefined): string {
  const p = profile ?? "<profile>";
  return `aws-refresh login --profile ${p} (or aws sso login --profile ${p})`;
}

function finish(report: StatusReport): StatusReport {
  report.ok = report.problems.length === 0;
  return report;
}

/** Renders a report as aligned text lines. */
export function formatStatus(r: StatusReport): string {
  const rows: [string, string][] = [];
  const certificate = r.source.kind === "roles-anywhere" || r.source.kind === "iot";
  rows.push(["profile", r.profile ?? (certificate ? "(none: the certificate flags)" : "(none: the default chain)")]);
  if (r.source.description) rows.push(["source", r.source.description]);
  rows.push(["config files", `${r.configFiles.config}, ${r.configFiles.credentials}`]);
  if (r.identity) rows.push(["identity", `${r.identity.Arn} (account ${r.identity.Account})`]);
  if (r.credentials.ok) {
    rows.push([
      "credentials",
      `${r.credentials.accessKeyId}, ${
        r.credentials.expiration
          ? `expire ${describeTime(new Date(r.credentials.expiration))}`
          : "long-term keys (no expiry)"
      }`,
    ]);
  } else {
    rows.push(["credentials", `none (${r.credentials.error ?? "not fetched"})`]);
  }
  if (r.sessionEnd) {
    rows.push(["session end", `${describeTime(new Date(r.sessionEnd.at))}: ${r.sessionEnd.basis}`]);
  } else if (r.credentials.ok) {
    rows.push(["session end", "none predicted (the source refreshes without a session limit it knows of)"]);
  }
  if (r.require)
    rows.push(["--require", `${formatRequirement(r.require.seconds * 1000)}: ${r.require.ok ? "ok" : "NOT MET"}`]);
  if (r.clock.skewSeconds !== null) {
    const s = r.clock.skewSeconds;
    rows.push([
      "clock skew",
      `${s === 0 ? "0s" : `${s > 0 ? "AWS ahead by" : "AWS behind by"} ${formatDuration(Math.abs(s) * 1000)}`} (${r.clock.basis})`,
    ]);
  }
  for (const f of r.sourceFacts) rows.push([f.label, f.value === null ? "-" : String(f.value)]);
  for (const e of r.environment) rows.push([`$${e.name}`, e.effect]);
  const width = Math.min(32, Math.max(...rows.map(([k]) => k.length)));
  let out = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n";
  for (const n of r.notes) out += `note: ${n}\n`;
  if (r.problems.length === 0) out += "\nok: no problems found\n";
  else {
    out += `\n${r.problems.length} problem${r.problems.length > 1 ? "s" : ""}:\n`;
    for (const p of r.problems) out += `  - ${p.what}\n    fix: ${p.fix}\n`;
  }
  return out;
}

/**
 * Reports on a source: where its credentials come from, who they belong to, when they expire, the clock's skew
 * against AWS, when the underlying session ends, environment variables that would shadow the profile, the source's
 * own facts, and what to do about each problem found. Resolves to 0 when nothing is wrong, 1 otherwise.
 *
 * @example
 * ```ts
 * const code = await runStatus({ source: { profile: "ml" }, requireMs: 30 * 3_600_000 }, { env: process.env, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export async function runStatus(input: StatusInput, deps: StatusDeps): Promise<number> {
  let report: StatusReport;
  try {
    report = await statusReport(input, deps.env);
  } catch (err) {
    deps.stderr.write(`aws-refresh status: ${errorMessage(err)}\n`);
    return 2;
  }
  deps.stdout.write(input.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return report.ok ? 0 : 1;
}

interface StatusFlags extends SourceFlags {
  json?: boolean;
  require?: string;
}

/** `aws-refresh status`'s flags to its input; throws naming a bad flag. */
export function statusInput(flags: StatusFlags): StatusInput {
  return {
    source: sourceInputFrom(flags),
    ...(flags.json ? { json: true } : {}),
    ...(flags.require !== undefined ? { requireMs: parseDuration(flags.require, "--require") } : {}),
  };
}

/** The CLI's entry point for `aws-refresh status`. */
export const statusCommand: CliCommand = (flags, _args, io) =>
  runParsed(
    "status",
    io,
    () => statusInput(flags as StatusFlags),
    (input) => runStatus(input, io),
  );
