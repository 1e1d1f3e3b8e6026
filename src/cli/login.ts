import { RefreshSessionError, errorMessage } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import { checkTokenFile, metaPathFor, parseCacheTime, readJsonFile, readMeta } from "../sso/cache.js";
import { canOpenBrowser, openBrowser } from "../sso/browser.js";
import { describeSsoConfig, loadSsoConfig, type SsoConfig } from "../sso/config.js";
import { deviceLogin, tokenPathFor, type DeviceAuthorizationPrompt, type DeviceLoginResult } from "../sso/login.js";
import { pkceLogin } from "../sso/pkce.js";
import { runSsoNotify, validateNotify, type SsoLoginRequired } from "../sso/notify.js";
import { predictSsoSessionEnd } from "../sso/session-end.js";
import { runParsed, type CliCommand } from "./runner.js";

/** Input of {@link runLogin}. */
export interface LoginInput {
  /** Profile to log in. Default: `AWS_PROFILE`, else `default` (unless `ssoSession` is given). */
  profile?: string;
  /** An `[sso-session NAME]` to log in directly. */
  ssoSession?: string;
  /** Do not try to open a browser (and so log in with the device code flow). Default false. */
  noBrowser?: boolean;
  /** Log in with the device code flow instead of the authorization-code flow with PKCE. Default false. */
  useDeviceCode?: boolean;
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

export { openBrowser } from "../sso/browser.js";

/** How a login goes: PKCE in a browser on this machine, or the device code flow for everything headless. */
type LoginFlow = "authorization-code" | "device-code";

/**
 * The device code flow when asked (`--use-device-code`), when the job is headless (`--notify`, `--no-browser`, or no
 * browser can be opened here), or for a legacy profile (the AWS CLI logs those in with the device code too);
 * otherwise the authorization-code flow with PKCE, as the AWS CLI v2 does by default.
 */
function chooseFlow(cfg: SsoConfig, input: LoginInput, deps: LoginDeps, env: NodeJS.ProcessEnv): LoginFlow {
  if (input.useDeviceCode || input.notify !== undefined || input.noBrowser) return "device-code";
  if (cfg.sessionName === undefined) return "device-code";
  return deps.openBrowser !== undefined || canOpenBrowser(env) ? "authorization-code" : "device-code";
}

/** Thrown into the PKCE login when the browser would not open: the login carries on with the device code. */
const NO_BROWSER = "no browser could be opened";

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
 * `aws-refresh login`: logs an SSO profile or sso-session in, as `aws sso login` does: by default with the
 * authorization-code flow with PKCE (a browser on this machine is opened at the `/authorize` page and comes back to a
 * listener on 127.0.0.1); with the device code flow (a URL and a code to approve from any device) under
 * `--use-device-code`, `--no-browser` or `--notify`, for a legacy profile, or when no browser can be opened. Writes
 * the token to `~/.aws/sso/cache` where the AWS CLI and every SDK find it, and records the login time so the
 * session's end can be predicted. Resolves to the exit code: 0 logged in, 1 the login failed, 2 bad configuration.
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
  const open = deps.openBrowser ?? ((url: string) => openBrowser(url, env));
  let flow = chooseFlow(cfg, input, deps, env);
  const device = (): Promise<DeviceLoginResult> =>
    deviceLogin({
      config: cfg,
      ...(input.cacheDir !== undefined ? { cacheDir: input.cacheDir } : {}),
      onPrompt: async (p: DeviceAuthorizationPrompt) => {
        const opened = input.noBrowser ? false : await open(p.verificationUriComplete);
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
  const browserLogin = async (): Promise<DeviceLoginResult> => {
    const giveUp = new AbortController();
    try {
      return await pkceLogin({
        config: cfg,
        ...(input.cacheDir !== undefined ? { cacheDir: input.cacheDir } : {}),
        signal: giveUp.signal,
        onPrompt: async (p) => {
          if (!(await open(p.authorizationUrl))) {
            giveUp.abort(NO_BROWSER);
            return;
          }
          deps.stderr.write(
            "A browser was opened to log in. If it did not show the page, open this URL in a browser on this " +
              `machine:\n\n  ${p.authorizationUrl}\n\n(waiting until ${p.expiresAt.toISOString()}). If you cannot ` +
              "open a browser here, run the command again with --use-device-code. Waiting…\n",
          );
        },
      });
    } catch (err) {
      if (giveUp.signal.aborted) {
        flow = "device-code";
        deps.stderr.write("No browser could be opened here; logging in with the device code flow instead.\n");
        return device();
      }
      throw err;
    }
  };
  try {
    const result = flow === "authorization-code" ? await browserLogin() : await device();
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
          flow,
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

/** `aws-refresh login`'s flags to its input. */
export function loginInput(flags: {
  profile?: string;
  ssoSession?: string;
  browser?: boolean;
  useDeviceCode?: boolean;
  notify?: string;
  json?: boolean;
}): LoginInput {
  return {
    ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
    ...(flags.ssoSession !== undefined ? { ssoSession: flags.ssoSession } : {}),
    noBrowser: flags.browser === false,
    ...(flags.useDeviceCode ? { useDeviceCode: true } : {}),
    ...(flags.notify !== undefined ? { notify: flags.notify } : {}),
    ...(flags.json ? { json: true } : {}),
  };
}

/** The CLI's entry point for `aws-refresh login`. */
export const loginCommand: CliCommand = (flags, _args, io) =>
  runParsed(
    "login",
    io,
    () => loginInput(flags),
    (input) => runLogin(input, io),
  );
