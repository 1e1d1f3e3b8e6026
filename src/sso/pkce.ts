import { createHash, randomBytes, randomUUID } from "node:crypto";
import { CreateTokenCommand, RegisterClientCommand } from "@aws-sdk/client-sso-oidc";
import { HttpRequest } from "@smithy/protocol-http";
import type { Logger } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { Clock } from "../types.js";
import { formatDuration } from "../util/duration.js";
import { defaultSsoCacheDir } from "./cache.js";
import { describeSsoConfig, type SsoConfig } from "./config.js";
import { loginAborted, loginFailed } from "./loginFailed.js";
import { saveLoginToken, type SsoLoginResult } from "./loginToken.js";
import { listenForRedirect, type LoopbackRedirect } from "./loopback.js";
import { createOidcClient, sdkErrorText, type SsoOidcClientConfig } from "./oidc.js";
import { clientRegistration, DEFAULT_SSO_REGISTRATION_SCOPES, LOOPBACK_REDIRECT_URI } from "./registration.js";

/** How long a login waits for the browser to come back, as the AWS CLI v2: 10 minutes. */
export const DEFAULT_PKCE_LOGIN_TIMEOUT_MS = 10 * 60_000;

/** What the user must do to approve an authorization-code login: open the URL in a browser on this machine. */
export interface AuthorizationCodePrompt {
  /**
   * The `/authorize` URL on the SSO-OIDC endpoint. It carries the `state` and the code challenge, not the verifier:
   * showing it is safe, but it only works in a browser on this machine (the redirect goes to 127.0.0.1).
   */
  authorizationUrl: string;
  /** Where the browser comes back: `http://127.0.0.1:PORT/oauth/callback`. */
  redirectUri: string;
  /** When the login stops waiting. */
  expiresAt: Date;
}

/** Options of {@link pkceLogin}: those of `deviceLogin`, with an authorization-code prompt and a deadline. */
export interface PkceLoginOptions {
  /** An sso-session config (the flow needs one, as in the AWS CLI; a legacy profile logs in with `deviceLogin`). */
  config: SsoConfig;
  /** Default `~/.aws/sso/cache`. */
  cacheDir?: string;
  oidcClientConfig?: SsoOidcClientConfig;
  /**
   * Called once the loopback listener is up: open (or show) the URL in a browser on this machine. The login waits for
   * the browser from the start, so this may take as long as it likes; if it throws, the login fails with its error.
   */
  onPrompt: (prompt: AuthorizationCodePrompt) => void | Promise<void>;
  /** Abort the login (e.g. another tool logged in meanwhile). */
  signal?: AbortSignal;
  clock?: Clock;
  logger?: Logger;
  /** Whether the listener and the deadline keep the process alive (a CLI: yes; a background login: no). Default true. */
  keepAlive?: boolean;
  /** Deadline of the whole login, registration to token, in ms. Default {@link DEFAULT_PKCE_LOGIN_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Called with the new access token's fingerprint (never the token) just before it is written to the cache. */
  onTokenIssued?: (fingerprint: string) => void;
}

/** What a PKCE login produced: the same as a device login. */
export type PkceLoginResult = SsoLoginResult;

/** A verifier of 64 characters of the RFC 7636 alphabet, and its S256 challenge (base64url, no padding). */
function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier, "ascii").digest("base64url") };
}

class DeadlineReached extends Error {
  constructor() {
    super("the login's deadline was reached");
  }
}

class EndpointFound extends Error {
  constructor(readonly base: string) {
    super("endpoint found");
  }
}

/**
 * The SSO-OIDC endpoint the SDK would call (honouring `endpoint`, `AWS_ENDPOINT_URL_SSO_OIDC`, `AWS_ENDPOINT_URL`,
 * FIPS…), found as the AWS CLI finds it: a RegisterClient request is built and stopped before it is sent.
 * `/authorize` is not an SDK operation, so this is where it lives.
 */
async function oidcEndpoint(region: string, config: SsoOidcClientConfig | undefined): Promise<string> {
  // A client of its own, without the caller's logger: the stopped request is not an error worth logging.
  const { logger: _logger, ...rest } = config ?? {};
  const probe = createOidcClient(region, { ...rest, maxAttempts: 1 });
  const command = new RegisterClientCommand({ clientName: "endpoint", clientType: "public" });
  command.middlewareStack.add(
    () => async (args) => {
      const req = args.request;
      if (!HttpRequest.isInstance(req)) throw new Error("the SDK built no HTTP request");
      const path = req.path.replace(/\/client\/register$/, "");
      throw new EndpointFound(`${req.protocol}//${req.hostname}${req.port ? `:${req.port}` : ""}${path}`);
    },
    { step: "finalizeRequest", priority: "low", name: "awsRefreshFindEndpoint" },
  );
  try {
    await probe.send(command);
  } catch (err) {
    if (err instanceof EndpointFound) return err.base;
    throw err;
  } finally {
    probe.destroy();
  }
  throw new Error("the SDK sent a request it was told to stop");
}

/** RFC 3986 percent-encoding, as botocore's `percent_encode_sequence` (spaces as %20, not +). */
function query(params: [string, string][]): string {
  return params
    .map(
      ([k, v]) =>
        `${encodeURIComponent(k)}=${encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`,
    )
    .join("&");
}

function describeRefusal(error: string, description: string | undefined): string {
  if (error === "access_denied") return "the request was denied in the browser";
  return `the authorization server answered \`${error}\`${description ? ` (${description})` : ""}`;
}

/**
 * The OAuth 2.0 authorization-code flow with PKCE and a loopback redirect against IAM Identity Center, as
 * `aws sso login` (AWS CLI v2) does it by default: a client registered for the `authorization_code` and
 * `refresh_token` grants with the redirect URI `http://127.0.0.1/oauth/callback` (cached under the AWS CLI's file
 * name, reused only if it was made for this grant), a listener on 127.0.0.1 on an ephemeral port, the browser sent to
 * `/authorize` with a random `state` and an S256 code challenge, then CreateToken with the code and its verifier. A
 * callback with another `state`, or an `error=` callback, ends the login with `SSO_LOGIN_FAILED` saying why; so does
 * the deadline. The token is written exactly as `deviceLogin` writes it (atomically, under the cache lock, with the
 * login time recorded beside it).
 *
 * @example
 * ```ts
 * const cfg = await loadSsoConfig({ profile: "dev" });
 * await pkceLogin({ config: cfg, onPrompt: (p) => void openBrowser(p.authorizationUrl) });
 * ```
 */
export async function pkceLogin(options: PkceLoginOptions): Promise<PkceLoginResult> {
  const cfg = options.config;
  if (typeof options.onPrompt !== "function") throw new TypeError("`onPrompt` must be a function");
  const timeoutMs = options.timeoutMs ?? DEFAULT_PKCE_LOGIN_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError("`timeoutMs` must be a number > 0");
  if (cfg.sessionName === undefined) {
    throw new RefreshSessionError(
      "SSO_CONFIG_INVALID",
      `${describeSsoConfig(cfg)} in ${cfg.configFile} is a legacy SSO profile: the authorization-code login needs an ` +
        "[sso-session] (as in the AWS CLI). Log in with the device code flow (`aws-refresh login --use-device-code`), " +
        "or move the profile to the sso_session format with `aws configure sso`.",
      { profile: cfg.profile },
    );
  }
  const clock = options.clock ?? Date;
  const dir = options.cacheDir ?? defaultSsoCacheDir();
  const keepAlive = options.keepAlive ?? true;
  const startedAt = clock.now();

  // One signal for the caller's abort and the deadline: every step, and the wait for the browser, stops on it.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(options.signal?.reason ?? "aborted");
  if (options.signal?.aborted) throw loginAborted(cfg, options.signal);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const deadline = setTimeout(() => stop.abort(new DeadlineReached()), timeoutMs);
  if (!keepAlive) deadline.unref();
  const stopped = (): RefreshSessionError =>
    stop.signal.reason instanceof DeadlineReached
      ? loginFailed(cfg, `the browser did not come back within ${formatDuration(timeoutMs)}`)
      : loginAborted(cfg, stop.signal);

  const client = createOidcClient(cfg.ssoRegion, options.oidcClientConfig, options.logger);
  let loopback: LoopbackRedirect | undefined;
  try {
    const state = randomUUID();
    const { verifier, challenge } = pkcePair();
    loopback = await listenForRedirect({ state, keepAlive });
    const reg = await clientRegistration(client, cfg, {
      dir,
      now: startedAt,
      logger: options.logger,
      grant: { kind: "authorization_code", redirectUri: LOOPBACK_REDIRECT_URI, issuerUrl: cfg.startUrl },
      signal: stop.signal,
    });
    if (stop.signal.aborted) throw stopped();
    let endpoint: string;
    try {
      endpoint = await oidcEndpoint(cfg.ssoRegion, options.oidcClientConfig);
    } catch (err) {
      throw loginFailed(cfg, `could not resolve the SSO-OIDC endpoint (${sdkErrorText(err)})`, err);
    }
    const scopes = cfg.registrationScopes?.length ? cfg.registrationScopes : DEFAULT_SSO_REGISTRATION_SCOPES;
    const authorizationUrl =
      `${endpoint}/authorize?` +
      query([
        ["response_type", "code"],
        ["client_id", reg.clientId],
        ["redirect_uri", loopback.redirectUri],
        ["state", state],
        ["code_challenge_method", "S256"],
        ["scopes", scopes.join(" ")],
        ["code_challenge", challenge],
      ]);
    // The browser may come back before onPrompt returns (it may even wait for the user): both are awaited at once,
    // and a failing onPrompt fails the login.
    const prompt: AuthorizationCodePrompt = {
      authorizationUrl,
      redirectUri: loopback.redirectUri,
      expiresAt: new Date(startedAt + timeoutMs),
    };
    const prompted = Promise.resolve().then(() => options.onPrompt(prompt));
    const got = await Promise.race([
      loopback.callback,
      prompted.then(() => new Promise<never>(() => undefined)),
      new Promise<never>((_, reject) => {
        if (stop.signal.aborted) reject(stopped());
        stop.signal.addEventListener("abort", () => reject(stopped()), { once: true });
      }),
    ]);
    if (got.kind === "wrong-state") {
      throw loginFailed(
        cfg,
        "the browser came back to the loopback redirect with a `state` other than the one this login sent (a stale " +
          "page of an earlier login, or a forged request), so its code was not used",
      );
    }
    if (got.kind === "error") {
      throw loginFailed(cfg, describeRefusal(got.error, got.description));
    }
    let out;
    try {
      out = await client.send(
        new CreateTokenCommand({
          grantType: "authorization_code",
          clientId: reg.clientId,
          clientSecret: reg.clientSecret,
          code: got.code,
          redirectUri: loopback.redirectUri,
          codeVerifier: verifier,
        }),
        { abortSignal: stop.signal },
      );
    } catch (err) {
      if (stop.signal.aborted) throw stopped();
      throw loginFailed(cfg, `SSO-OIDC CreateToken refused the authorization code (${sdkErrorText(err)})`, err);
    }
    if (!out.accessToken || typeof out.expiresIn !== "number") {
      throw loginFailed(cfg, "CreateToken answered without accessToken or expiresIn");
    }
    const result = await saveLoginToken(
      cfg,
      reg,
      { accessToken: out.accessToken, expiresIn: out.expiresIn, refreshToken: out.refreshToken },
      {
        dir,
        loginAt: clock.now(),
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.onTokenIssued ? { onTokenIssued: options.onTokenIssued } : {}),
      },
    );
    loopback.finish({
      ok: true,
      title: "Logged in",
      text: `aws-refresh is logged in to IAM Identity Center for ${describeSsoConfig(cfg)}. You can close this window.`,
    });
    return result;
  } catch (err) {
    // Once aborted (deadline or caller), whatever failed failed because of it.
    const failure = stop.signal.aborted
      ? stopped()
      : err instanceof RefreshSessionError
        ? err
        : loginFailed(cfg, sdkErrorText(err), err);
    loopback?.finish({ ok: false, title: "Login failed", text: failure.message });
    throw failure;
  } finally {
    clearTimeout(deadline);
    options.signal?.removeEventListener("abort", onAbort);
    client.destroy();
    await loopback?.close();
  }
}
