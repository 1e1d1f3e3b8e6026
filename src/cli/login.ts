import { spawn } from "node:child_process";
import type { Command } from "commander";
import { RefreshSessionError, describeTime, errorMessage } from "../errors.js";
import { checkTokenFile, metaPathFor, parseCacheTime, readJsonFile, readMeta } from "../sso/cache.js";
import { describeSsoConfig, loadSsoConfig, type SsoConfig } from "../sso/config.js";
import { deviceLogin, tokenPathFor } from "../sso/login.js";
import { runSsoNotify, validateNotify, type SsoLoginRequired } from "../sso/notify.js";
import { predictSsoSessionEnd } from "../sso/session-end.js";
import type { RegisterCommand } from "./commands.js";

/** Input of {@link runLogin}. */
export interface LoginInput {
  /** Profile to log in. Default: `AWS_PROFILE`, else `default` (unless `ssoSession` is given). */
  profile?: string;
  /** An `[sso-session NAME]` to log in directly. */
  ssoSession?: string;
  /** Do not try to open a browser. Default false. */
  noBrowser?: boolean;
  /** Shell command run with the URL and code in `AWS_REFRESH_SSO_*` variables (e.g. to send them to a phone). */
  notify?: string;
  /** Print the result as JSON on stdout. */
  json?: boolean;
  /** Default `~/.aws/sso/cache`. */
  cacheDir?: string;
}

/** What the command needs from its surroundings; tests pass their own. */
export interface LoginDeps {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  /** Opens a URL in a browser; resolves false when none could be opened. Default: the platform's opener. */
  openBrowser?: (url: string) => Promise<boolean>;
}

/** The platform's way to open a URL, or undefined when no browser is likely here (no display, no opener). */
function browserCommand(env: NodeJS.ProcessEnv): [string, string[]] | undefined {
  if (env.BROWSER) return [env.BROWSER, []];
  if (process.platform === "darwin") return ["open", []];
  if (process.platform === "win32") return ["cmd", ["/c", "start", '""']];
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  return ["xdg-open", []];
}

/** Opens `url` with the platform's opener when a browser is available; false otherwise. */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const cmd = browserCommand(env);
  if (!cmd) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(cmd[0], [...cmd[1], url], { stdio: "ignore", detached: true, env });
    child.once("error", () => resolve(false));
    child.once("spawn", () => {
      child.unref();
      resolve(true);
    });
  });
}

async function reasonFor(cfg: SsoConfig, cacheDir: string | undefined): Promise<SsoLoginRequired["reason"]> {
  try {
    const got = await readJsonFile(tokenPathFor(cfg, cacheDir), { fix: "" });
    const exp = parseCacheTime(got?.value.expiresAt);
    if (exp === undefined) return "no-token";
    return exp > Date.now() ? "session-ending" : "session-ended";
  } catch {
    return "no-token";
  }
}

/**
 * `aws-refresh login`: the OAuth device authorization flow for an SSO profile or sso-session. Prints the verification
 * URL and code (and opens a browser when one is available), waits for approval, writes the token to
 * `~/.aws/sso/cache` where the AWS CLI and every SDK find it, and records the login time so the session's end can be
 * predicted. Resolves to the exit code: 0 logged in, 1 the login failed, 2 bad configuration.
 *
 * @example
 * ```ts
 * const code = await runLogin({ profile: "dev", noBrowser: true }, { stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export async function runLogin(input: LoginInput, deps: LoginDeps): Promise<number> {
  const env = deps.env ?? process.env;
  let cfg: SsoConfig;
  try {
    validateNotify(input.notify, "--notify");
    if (input.profile !== undefined && input.ssoSession !== undefined) {
      throw new TypeError("`--profile` and `--sso-session` cannot be used together; give one of them");
    }
    cfg = await loadSsoConfig({
      ...(input.profile !== undefined ? { profile: input.profile } : {}),
      ...(input.ssoSession !== undefined ? { ssoSession: input.ssoSession } : {}),
      env,
    });
  } catch (err) {
    deps.stderr.write(`aws-refresh login: ${errorMessage(err)}\n`);
    return 2;
  }
  const reason = await reasonFor(cfg, input.cacheDir);
  try {
    const result = await deviceLogin({
      config: cfg,
      ...(input.cacheDir !== undefined ? { cacheDir: input.cacheDir } : {}),
      onPrompt: async (p) => {
        const opened = input.noBrowser ? false : await (deps.openBrowser ?? openBrowser)(p.verificationUriComplete);
        deps.stderr.write(
          `${opened ? "A browser was opened to approve the login. If it did not show the page, or to" : "To"} ` +
            `approve from another device, open:\n\n  ${p.verificationUriComplete}\n\n` +
            `and check that it shows the code:\n\n  ${p.userCode}\n\n(valid until ${p.expiresAt.toISOString()}). Waiting…\n`,
        );
        if (input.notify !== undefined) {
          await runSsoNotify(
            input.notify,
            {
              profile: cfg.profile,
              ssoSession: cfg.sessionName,
              startUrl: cfg.startUrl,
              ...p,
              reason,
              sessionEndsAt: undefined,
            },
            { env },
          );
        }
      },
    });
    const read = await readJsonFile(result.path, { fix: "" });
    const end = read
      ? predictSsoSessionEnd({
          token: checkTokenFile(read.value, result.path, { fix: "aws-refresh login" }),
          tokenWrittenAt: read.mtimeMs,
          meta: await readMeta(metaPathFor(result.path)),
          stated: cfg.sessionDurationMs !== undefined ? { ms: cfg.sessionDurationMs, source: "config" } : undefined,
          now: Date.now(),
        })
      : undefined;
    if (input.json) {
      deps.stdout.write(
        `${JSON.stringify({
          profile: cfg.profile ?? null,
          ssoSession: cfg.sessionName ?? null,
          startUrl: cfg.startUrl,
          cacheFile: result.path,
          loginAt: result.loginAt.toISOString(),
          accessTokenExpiresAt: result.accessTokenExpiresAt.toISOString(),
          refreshable: result.refreshable,
          sessionEndsAt: end?.at.toISOString() ?? null,
          sessionEndBasis: end?.basis ?? null,
        })}\n`,
      );
    } else {
      deps.stdout.write(
        `Logged in: ${describeSsoConfig(cfg)}.\n` +
          `  access token expires ${describeTime(result.accessTokenExpiresAt)}` +
          (result.refreshable ? " (refreshed automatically)\n" : " (not refreshable: a legacy profile)\n") +
          (end ? `  session ends ${describeTime(end.at)}: ${end.basis}\n` : "") +
          `  cached in ${result.path}\n`,
      );
    }
    return 0;
  } catch (err) {
    deps.stderr.write(`aws-refresh login: ${errorMessage(err)}\n`);
    return err instanceof RefreshSessionError && err.code === "SSO_CONFIG_INVALID" ? 2 : 1;
  }
}

/** Registers `aws-refresh login`. */
export const registerLogin: RegisterCommand = (program: Command, setExitCode) => {
  program
    .command("login")
    .description(
      "Log in to IAM Identity Center (SSO) with the device authorization flow and cache the token where the AWS CLI " +
        "and the SDKs find it (~/.aws/sso/cache), recording the login time so aws-refresh can predict the session's end.",
    )
    .option("--profile <name>", "SSO profile to log in (default: AWS_PROFILE, else default)")
    .option("--sso-session <name>", "log in an [sso-session NAME] of the config file directly")
    .option("--no-browser", "only print the URL and code; do not open a browser")
    .option("--notify <command>", "shell command told the URL and code in AWS_REFRESH_SSO_* environment variables")
    .option("--json", "print the result as JSON")
    .action(
      async (opts: { profile?: string; ssoSession?: string; browser: boolean; notify?: string; json?: boolean }) => {
        setExitCode(
          await runLogin(
            {
              ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
              ...(opts.ssoSession !== undefined ? { ssoSession: opts.ssoSession } : {}),
              noBrowser: !opts.browser,
              ...(opts.notify !== undefined ? { notify: opts.notify } : {}),
              ...(opts.json ? { json: true } : {}),
            },
            { stdout: process.stdout, stderr: process.stderr },
          ),
        );
      },
    );
};
