// One file past 400 lines: every SSO-OIDC operation reads and writes the same client, session and token tables. The
// authorization-code grant's own state (requests, codes, the approval page) lives in sso-authorize.ts.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Emulator, EmulatorRequestContext, EmulatorService } from "./types.js";
import {
  AUTHORIZATION_CODE_GRANT,
  createAuthorizationCodeGrant,
  DEFAULT_EMULATOR_AUTHORIZATION_CODE_SECONDS,
  DEVICE_CODE_GRANT,
  KNOWN_GRANTS,
  registrationGrants,
  type AuthorizationRequestView,
} from "./sso-authorize.js";
import { sendJson, sendJsonError, xmlEscape } from "./xml.js";

/** Identity Center's default session duration: 8 hours. */
export const DEFAULT_EMULATOR_SSO_SESSION_SECONDS = 8 * 3600;
/** Lifetime of an SSO access token AWS issues: 1 hour. */
export const DEFAULT_EMULATOR_SSO_TOKEN_SECONDS = 3600;
/** Lifetime of a device code: 10 minutes, as AWS. */
export const DEFAULT_EMULATOR_DEVICE_CODE_SECONDS = 600;
/** Lifetime of a client registration's secret: 90 days, as AWS. */
export const DEFAULT_EMULATOR_REGISTRATION_SECONDS = 90 * 86400;

/** Options of {@link createSsoOidcService}. */
export interface SsoOidcOptions {
  /** Identity Center session duration, counted from each login's approval. Default 28800 (8 h). */
  sessionDurationSeconds?: number;
  /** Lifetime of access tokens (never past the session's end). Default 3600. */
  accessTokenLifetimeSeconds?: number;
  /** Lifetime of device codes. Default 600. */
  deviceCodeLifetimeSeconds?: number;
  /** `interval` StartDeviceAuthorization answers (seconds); polling faster gets `SlowDownException`. Default 1. */
  pollIntervalSeconds?: number;
  /** Lifetime of client registrations. Default 7776000 (90 days). */
  registrationLifetimeSeconds?: number;
  /** Approve every device code as soon as it is issued, and every `/authorize` request without a page (for demos). Default false. */
  autoApprove?: boolean;
  /** Lifetime of authorization codes (and of the approval page's request). Default 600. */
  authorizationCodeLifetimeSeconds?: number;
}

/** A device authorization waiting for (or given) a user's approval. Holds no secret. */
export interface PendingAuthorization {
  userCode: string;
  verificationUriComplete: string;
  startUrl: string;
  clientName: string;
  expiresAt: Date;
  state: "pending" | "approved" | "denied" | "redeemed";
}

/** An Identity Center session as the emulator tracks it. Holds no secret. */
export interface EmulatorSsoSession {
  id: string;
  startUrl: string;
  loginAt: Date;
  endsAt: Date;
  ended: boolean;
  /** Whether its tokens come with refresh tokens (the client registered with scopes). */
  refreshable: boolean;
}

interface Client {
  clientId: string;
  clientSecret: string;
  clientName: string;
  scopes: string[];
  /** As registered; without `grantTypes` a client gets the device code and refresh token grants. */
  grantTypes: string[];
  redirectUris: string[];
  issuerUrl: string | undefined;
  expiresAt: number;
}
interface Device {
  deviceCode: string;
  userCode: string;
  clientId: string;
  startUrl: string;
  expiresAt: number;
  interval: number;
  lastPollAt: number | undefined;
  state: PendingAuthorization["state"];
}
interface Session {
  id: string;
  startUrl: string;
  clientId: string;
  loginAt: number;
  endsAt: number;
  ended: boolean;
  refreshable: boolean;
}

/** The SSO-OIDC emulator plug-in, with the hooks tests and demos use. */
export interface SsoOidcService extends EmulatorService {
  /** Approve a device code as the user would on the verification page; false if no such pending code. */
  approve(userCode: string): boolean;
  /** Deny a device code (CreateToken then answers `AccessDeniedException`). */
  deny(userCode: string): boolean;
  /** Calls `listener` with every device authorization issued (e.g. to approve it from a test). Returns an unsubscriber. */
  onDeviceAuthorization(listener: (auth: PendingAuthorization) => void): () => void;
  pendingAuthorizations(): PendingAuthorization[];
  /** Session duration for logins approved from now on (seconds). */
  setSessionDuration(seconds: number): void;
  /** Lifetime of access tokens issued from now on (seconds). */
  setAccessTokenLifetime(seconds: number): void;
  /** End every session now, as an administrator revoking them or the duration running out. */
  endAllSessions(): void;
  sessions(): EmulatorSsoSession[];
  /**
   * CreateToken calls that succeeded, by grant (`refresh_token`, `authorization_code`,
   * `urn:ietf:params:oauth:grant-type:device_code`).
   */
  grants(grantType: string): number;
  /** Calls `listener` with every valid `/authorize` request, before its approval page is served. Returns an unsubscriber. */
  onAuthorizationRequest(listener: (request: AuthorizationRequestView) => void): () => void;
  /** The client registrations made so far, newest last. Holds no secret. */
  registrations(): RegistrationView[];
  /**
   * refresh_token grants that presented a refresh token already used before: two clients refreshing the same token.
   * Zero when every refresh happened once.
   */
  reusedRefreshTokens(): number;
  /** The session an access token belongs to, if the token is valid now. Used by the SSO portal plug-in. */
  sessionForAccessToken(token: string): EmulatorSsoSession | undefined;
  /** Ends the session of an access token (the portal's Logout). */
  logout(token: string): boolean;
}

/** A client registration as the emulator keeps it. Holds no secret. */
export interface RegistrationView {
  clientId: string;
  clientName: string;
  scopes: string[];
  grantTypes: string[];
  redirectUris: string[];
  issuerUrl: string | undefined;
}

const DEVICE_GRANT = DEVICE_CODE_GRANT;
const DEFAULT_GRANTS = [DEVICE_CODE_GRANT, "refresh_token"];
const PATHS: Record<string, string> = {
  "/client/register": "RegisterClient",
  "/device_authorization": "StartDeviceAuthorization",
  "/token": "CreateToken",
};

function positive(name: string, v: number | undefined, fallback: number): number {
  const n = v ?? fallback;
  if (!(typeof n === "number" && Number.isFinite(n) && n >= 1)) throw new RangeError(`\`${name}\` must be >= 1`);
  return n;
}

const snake = (code: string): string =>
  code
    .replace(/Exception$/, "")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();

/** SSO-OIDC's error answer: `x-amzn-errortype` plus `{ error, error_description }`. */
function sendOidcError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJsonError(res, status, code, message, { error: snake(code), error_description: message });
}

function token(prefix: string, bytes: number): string {
  return `${prefix}${randomBytes(bytes).toString("base64url")}`;
}

function userCode(): string {
  const alphabet = "BCDFGHJKLMNPQRSTVWXZ";
  const pick = (): string => Array.from(randomBytes(4), (b) => alphabet[b % alphabet.length]).join("");
  return `${pick()}-${pick()}`;
}

function html(body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Emulated AWS access portal</title></head><body>${body}</body></html>`;
}

/**
 * An SSO-OIDC endpoint for the emulator: RegisterClient (grant types, loopback redirect URIs, issuer URL),
 * StartDeviceAuthorization and CreateToken (device_code, authorization_code with PKCE, and refresh_token grants) with
 * AWS's error codes, Identity Center sessions of a set duration, a verification page at `/device` where a user (or
 * `approve()`) approves a device code, and the authorization endpoint `/authorize` whose Allow / Deny page sends the
 * browser back to the client's loopback redirect. A client gets only the grants it registered for (without
 * `grantTypes`: device code and refresh token). Add it with `emu.addService()`, or use `addSsoServices()` for it and
 * the portal together.
 *
 * @example
 * ```ts
 * const emu = await startEmulator();
 * const oidc = createSsoOidcService(emu, { sessionDurationSeconds: 30, accessTokenLifetimeSeconds: 5 });
 * emu.addService(oidc);
 * oidc.onDeviceAuthorization((a) => oidc.approve(a.userCode)); // approve every login at once
 * ```
 */
export function createSsoOidcService(emu: Emulator, options: SsoOidcOptions = {}): SsoOidcService {
  let sessionSeconds = positive(
    "sessionDurationSeconds",
    options.sessionDurationSeconds,
    DEFAULT_EMULATOR_SSO_SESSION_SECONDS,
  );
  let tokenSeconds = positive(
    "accessTokenLifetimeSeconds",
    options.accessTokenLifetimeSeconds,
    DEFAULT_EMULATOR_SSO_TOKEN_SECONDS,
  );
  const deviceSeconds = positive(
    "deviceCodeLifetimeSeconds",
    options.deviceCodeLifetimeSeconds,
    DEFAULT_EMULATOR_DEVICE_CODE_SECONDS,
  );
  const interval = Math.round(positive("pollIntervalSeconds", options.pollIntervalSeconds, 1));
  const registrationSeconds = positive(
    "registrationLifetimeSeconds",
    options.registrationLifetimeSeconds,
    DEFAULT_EMULATOR_REGISTRATION_SECONDS,
  );
  const codeSeconds = positive(
    "authorizationCodeLifetimeSeconds",
    options.authorizationCodeLifetimeSeconds,
    DEFAULT_EMULATOR_AUTHORIZATION_CODE_SECONDS,
  );
  const clients = new Map<string, Client>();
  const devices = new Map<string, Device>();
  const byUserCode = new Map<string, Device>();
  const sessions = new Map<string, Session>();
  const accessTokens = new Map<string, { session: Session; expiresAt: number }>();
  const refreshTokens = new Map<string, { session: Session; clientId: string }>();
  const grantCounts = new Map<string, number>();
  const usedRefreshTokens = new Set<string>();
  let reused = 0;
  const listeners = new Set<(a: PendingAuthorization) => void>();
  const authCode = createAuthorizationCodeGrant({
    client: (id) => clients.get(id),
    autoApprove: () => options.autoApprove === true,
    codeLifetimeSeconds: codeSeconds,
  });

  const view = (d: Device): PendingAuthorization => ({
    userCode: d.userCode,
    verificationUriComplete: `${emu.url}/device?user_code=${d.userCode}`,
    startUrl: d.startUrl,
    clientName: clients.get(d.clientId)?.clientName ?? "",
    expiresAt: new Date(d.expiresAt),
    state: d.state,
  });
  const sessionView = (s: Session): EmulatorSsoSession => ({
    id: s.id,
    startUrl: s.startUrl,
    loginAt: new Date(s.loginAt),
    endsAt: new Date(s.endsAt),
    ended: s.ended || emu.now() >= s.endsAt,
    refreshable: s.refreshable,
  });
  const alive = (s: Session, now: number): boolean => !s.ended && now < s.endsAt;

  const setState = (code: string, state: "approved" | "denied"): boolean => {
    const d = byUserCode.get(code.trim().toUpperCase());
    if (!d || d.state !== "pending" || emu.now() >= d.expiresAt) return false;
    d.state = state;
    return true;
  };

  function issueTokens(session: Session, clientId: string, now: number): Record<string, unknown> {
    const access = token("aoa", 96);
    // Never past the session's end: a token is as good as the session behind it.
    const lifetime = session.refreshable
      ? Math.max(1, Math.min(tokenSeconds, Math.floor((session.endsAt - now) / 1000)))
      : Math.max(1, Math.floor((session.endsAt - now) / 1000));
    accessTokens.set(access, { session, expiresAt: now + lifetime * 1000 });
    const out: Record<string, unknown> = { accessToken: access, tokenType: "Bearer", expiresIn: lifetime };
    if (session.refreshable) {
      const refresh = token("aor", 96);
      refreshTokens.set(refresh, { session, clientId });
      out.refreshToken = refresh;
    }
    return out;
  }

  function parseBody(ctx: EmulatorRequestContext): Record<string, unknown> | undefined {
    try {
      const v = JSON.parse(ctx.body.toString("utf8") || "{}") as unknown;
      return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  function startSession(startUrl: string, c: Client, now: number): Session {
    const session: Session = {
      id: token("", 12),
      startUrl,
      clientId: c.clientId,
      loginAt: now,
      endsAt: now + sessionSeconds * 1000,
      ended: false,
      refreshable: c.scopes.length > 0 && c.grantTypes.includes("refresh_token"),
    };
    sessions.set(session.id, session);
    return session;
  }

  const countGrant = (grant: string): void => void grantCounts.set(grant, (grantCounts.get(grant) ?? 0) + 1);

  function checkClient(body: Record<string, unknown>, now: number): Client | string {
    const c = typeof body.clientId === "string" ? clients.get(body.clientId) : undefined;
    if (!c || body.clientSecret !== c.clientSecret) return "Invalid client provided";
    if (now >= c.expiresAt) return "Client registration has expired";
    return c;
  }

  function handleDevicePage(ctx: EmulatorRequestContext): void {
    const { req, res, url } = ctx;
    let code = url.searchParams.get("user_code") ?? "";
    if (req.method === "POST") {
      const form = new URLSearchParams(ctx.body.toString("utf8"));
      code = form.get("user_code") ?? code;
      const ok = form.get("action") === "deny" ? setState(code, "denied") : setState(code, "approved");
      res.writeHead(ok ? 200 : 400, { "content-type": "text/html" });
      res.end(
        html(
          ok
            ? `<p>Request ${xmlEscape(code)} ${form.get("action") === "deny" ? "denied" : "approved"}. You can close this window.</p>`
            : `<p>No pending request with code ${xmlEscape(code)} (wrong, expired or already used).</p>`,
        ),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/html" });
    res.end(
      html(
        `<h1>Authorize request</h1><form method="post" action="/device"><label>Code <input name="user_code" value="${xmlEscape(code)}"></label>` +
          `<button name="action" value="approve">Allow</button> <button name="action" value="deny">Deny</button></form>`,
      ),
    );
  }

  const service: SsoOidcService = {
    name: "sso-oidc",
    match(req: IncomingMessage, url: URL) {
      if (url.pathname === "/device") return true;
      if (url.pathname === "/authorize") return req.method === "GET" || req.method === "POST";
      return req.method === "POST" && Object.hasOwn(PATHS, url.pathname) && !url.searchParams.has("aws_iam");
    },
    operation(req: IncomingMessage, url: URL) {
      if (url.pathname === "/device") return "VerificationPage";
      if (url.pathname === "/authorize") return req.method === "POST" ? "AuthorizeDecision" : "Authorize";
      return PATHS[url.pathname] ?? "Unknown";
    },
    sendError: sendOidcError,
    handle(ctx: EmulatorRequestContext) {
      if (ctx.operation === "VerificationPage") return handleDevicePage(ctx);
      if (ctx.operation === "Authorize") return authCode.authorize(ctx);
      if (ctx.operation === "AuthorizeDecision") return authCode.decide(ctx);
      const now = ctx.now();
      const body = parseBody(ctx);
      if (!body) return sendOidcError(ctx.res, 400, "InvalidRequestException", "Request body is not valid JSON");
      switch (ctx.operation) {
        case "RegisterClient": {
          if (typeof body.clientName !== "string" || body.clientName === "") {
            return sendOidcError(ctx.res, 400, "InvalidRequestException", "clientName is required");
          }
          if (body.clientType !== "public") {
            return sendOidcError(ctx.res, 400, "InvalidClientMetadataException", "clientType must be public");
          }
          const scopes = Array.isArray(body.scopes)
            ? body.scopes.filter((s): s is string => typeof s === "string")
            : [];
          const grants = registrationGrants(body, DEFAULT_GRANTS);
          if ("code" in grants) return sendOidcError(ctx.res, grants.status, grants.code, grants.message);
          const c: Client = {
            clientId: token("", 16),
            clientSecret: token("eyJraWQiOiJrZXktZW11bGF0b3IifQ.", 96),
            clientName: body.clientName,
            scopes,
            ...grants,
            expiresAt: Math.floor(now / 1000) * 1000 + registrationSeconds * 1000,
          };
          clients.set(c.clientId, c);
          return sendJson(ctx.res, 200, {
            clientId: c.clientId,
            clientSecret: c.clientSecret,
            clientIdIssuedAt: Math.floor(now / 1000),
            clientSecretExpiresAt: Math.floor(c.expiresAt / 1000),
          });
        }
        case "StartDeviceAuthorization": {
          const c = checkClient(body, now);
          if (typeof c === "string") return sendOidcError(ctx.res, 401, "InvalidClientException", c);
          if (!c.grantTypes.includes(DEVICE_GRANT)) {
            return sendOidcError(
              ctx.res,
              400,
              "UnauthorizedClientException",
              "Client is not authorized for the device code grant",
            );
          }
          if (typeof body.startUrl !== "string" || body.startUrl === "") {
            return sendOidcError(ctx.res, 400, "InvalidRequestException", "startUrl is required");
          }
          const d: Device = {
            deviceCode: token("", 64),
            userCode: userCode(),
            clientId: c.clientId,
            startUrl: body.startUrl,
            expiresAt: now + deviceSeconds * 1000,
            interval,
            lastPollAt: undefined,
            state: options.autoApprove ? "approved" : "pending",
          };
          devices.set(d.deviceCode, d);
          byUserCode.set(d.userCode, d);
          const v = view(d);
          sendJson(ctx.res, 200, {
            deviceCode: d.deviceCode,
            userCode: d.userCode,
            verificationUri: `${emu.url}/device`,
            verificationUriComplete: v.verificationUriComplete,
            expiresIn: deviceSeconds,
            interval,
          });
          for (const fn of listeners) {
            try {
              fn(v);
            } catch {
              /* a test hook's failure is the test's business */
            }
          }
          return;
        }
        case "CreateToken": {
          const c = checkClient(body, now);
          if (typeof c === "string") return sendOidcError(ctx.res, 401, "InvalidClientException", c);
          const grant = body.grantType;
          if (typeof grant === "string" && KNOWN_GRANTS.has(grant) && !c.grantTypes.includes(grant)) {
            return sendOidcError(
              ctx.res,
              400,
              "UnauthorizedClientException",
              `Client is not authorized for the ${grant} grant`,
            );
          }
          if (grant === AUTHORIZATION_CODE_GRANT) {
            const r = authCode.redeem(body, c, now);
            if ("code" in r) return sendOidcError(ctx.res, r.status, r.code, r.message);
            const session = startSession(r.startUrl, c, now);
            r.onReuse(() => void (session.ended = true));
            countGrant(AUTHORIZATION_CODE_GRANT);
            return sendJson(ctx.res, 200, issueTokens(session, c.clientId, now));
          }
          if (grant === DEVICE_GRANT) {
            const d = typeof body.deviceCode === "string" ? devices.get(body.deviceCode) : undefined;
            if (!d || d.clientId !== c.clientId) {
              return sendOidcError(ctx.res, 400, "InvalidGrantException", "Invalid device code provided");
            }
            if (now >= d.expiresAt) {
              return sendOidcError(ctx.res, 400, "ExpiredTokenException", "Device code has expired");
            }
            const tooSoon = d.lastPollAt !== undefined && now - d.lastPollAt < d.interval * 500;
            d.lastPollAt = now;
            if (tooSoon) {
              d.interval += 5;
              return sendOidcError(ctx.res, 400, "SlowDownException", "Client is polling too quickly");
            }
            if (d.state === "denied") return sendOidcError(ctx.res, 400, "AccessDeniedException", "Access denied");
            if (d.state === "redeemed") {
              return sendOidcError(ctx.res, 400, "InvalidGrantException", "Device code has already been used");
            }
            if (d.state === "pending") {
              return sendOidcError(ctx.res, 400, "AuthorizationPendingException", "Authorization is still pending");
            }
            d.state = "redeemed";
            const session = startSession(d.startUrl, c, now);
            countGrant(DEVICE_GRANT);
            return sendJson(ctx.res, 200, issueTokens(session, c.clientId, now));
          }
          if (grant === "refresh_token") {
            const r = typeof body.refreshToken === "string" ? refreshTokens.get(body.refreshToken) : undefined;
            if (!r || r.clientId !== c.clientId || !alive(r.session, now)) {
              return sendOidcError(ctx.res, 400, "InvalidGrantException", "Invalid refresh token provided");
            }
            countGrant("refresh_token");
            if (usedRefreshTokens.has(body.refreshToken as string)) reused++;
            usedRefreshTokens.add(body.refreshToken as string);
            return sendJson(ctx.res, 200, issueTokens(r.session, c.clientId, now));
          }
          return sendOidcError(
            ctx.res,
            400,
            "UnsupportedGrantTypeException",
            `Unsupported grant type: ${String(grant)}`,
          );
        }
        default:
          return sendOidcError(ctx.res, 404, "UnknownOperationException", "Unknown operation");
      }
    },
    approve: (code: string) => setState(code, "approved"),
    deny: (code: string) => setState(code, "denied"),
    onDeviceAuthorization(listener) {
      if (typeof listener !== "function") throw new TypeError("`listener` must be a function");
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    pendingAuthorizations: () => [...devices.values()].filter((d) => d.state === "pending").map(view),
    setSessionDuration(seconds: number) {
      sessionSeconds = positive("seconds", seconds, 0);
    },
    setAccessTokenLifetime(seconds: number) {
      tokenSeconds = positive("seconds", seconds, 0);
    },
    endAllSessions() {
      for (const s of sessions.values()) s.ended = true;
    },
    sessions: () => [...sessions.values()].map(sessionView),
    grants: (grantType: string) => grantCounts.get(grantType) ?? 0,
    onAuthorizationRequest: (listener) => authCode.onRequest(listener),
    registrations: () =>
      [...clients.values()].map((c) => ({
        clientId: c.clientId,
        clientName: c.clientName,
        scopes: [...c.scopes],
        grantTypes: [...c.grantTypes],
        redirectUris: [...c.redirectUris],
        issuerUrl: c.issuerUrl,
      })),
    reusedRefreshTokens: () => reused,
    sessionForAccessToken(t: string) {
      const rec = accessTokens.get(t);
      const now = emu.now();
      if (!rec || now >= rec.expiresAt || !alive(rec.session, now)) return undefined;
      return sessionView(rec.session);
    },
    logout(t: string) {
      const rec = accessTokens.get(t);
      if (!rec) return false;
      rec.session.ended = true;
      return true;
    },
  };
  return service;
}
