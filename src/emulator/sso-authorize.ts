import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { EmulatorRequestContext } from "./types.js";
import { xmlEscape } from "./xml.js";

/** Lifetime of an authorization code: 10 minutes, the most RFC 6749 §4.1.2 recommends. */
export const DEFAULT_EMULATOR_AUTHORIZATION_CODE_SECONDS = 600;
export const AUTHORIZATION_CODE_GRANT = "authorization_code";
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** The grants SSO-OIDC supports; a registration without `grantTypes` gets the device code and refresh token grants. */
export const KNOWN_GRANTS = new Set([
  AUTHORIZATION_CODE_GRANT,
  "refresh_token",
  DEVICE_CODE_GRANT,
  "urn:ietf:params:oauth:grant-type:token-exchange",
  "urn:ietf:params:oauth:grant-type:jwt-bearer",
]);

/** The part of a client registration the authorization-code grant needs. */
export interface AuthorizingClient {
  clientId: string;
  clientName: string;
  scopes: string[];
  grantTypes: string[];
  redirectUris: string[];
  issuerUrl: string | undefined;
  expiresAt: number;
}

/** A refusal in SSO-OIDC's JSON error format. */
export interface OidcRefusal {
  status: number;
  code: string;
  message: string;
}

/** What a redeemed code was issued for. */
export interface RedeemedCode {
  startUrl: string;
  scopes: string[];
  /** Tokens issued from this code are revoked if the code is presented again (RFC 6749 §4.1.2). */
  onReuse: (revoke: () => void) => void;
}

function isLoopbackIp(host: string): boolean {
  return host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Whether a redirect URI may be registered: absolute, no fragment, `https`, or `http` on a loopback IP literal
 * (RFC 8252 §7.3, §8.3). Returns the reason it may not, or undefined.
 */
export function redirectUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== "string" || uri === "") return "a redirect URI must be a non-empty string";
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `${uri} is not an absolute URI`;
  }
  if (u.hash !== "" || uri.includes("#")) return `${uri} has a fragment`;
  if (u.protocol === "https:") return undefined;
  if (u.protocol === "http:" && (isLoopbackIp(u.hostname) || u.hostname === "localhost")) return undefined;
  return `${uri} must use https, or http on a loopback address`;
}

/**
 * Whether `requested` matches one of the `registered` redirect URIs. A loopback IP literal (127.0.0.1, [::1])
 * registered with or without a port matches that host and path on any port, as RFC 8252 §7.3 requires (the client
 * listens on an ephemeral port); everything else must match exactly.
 */
export function redirectUriAllowed(requested: string, registered: string[]): boolean {
  let r: URL;
  try {
    r = new URL(requested);
  } catch {
    return false;
  }
  return registered.some((reg) => {
    if (reg === requested) return true;
    let g: URL;
    try {
      g = new URL(reg);
    } catch {
      return false;
    }
    return (
      g.protocol === "http:" &&
      r.protocol === "http:" &&
      isLoopbackIp(g.hostname) &&
      g.hostname === r.hostname &&
      g.pathname === r.pathname &&
      g.search === r.search &&
      r.hash === "" &&
      r.username === "" &&
      r.password === ""
    );
  });
}

/** RegisterClient's grants and redirect URIs, checked as SSO-OIDC does; a refusal, or what to register. */
export function registrationGrants(
  body: Record<string, unknown>,
  defaultGrants: readonly string[],
): { grantTypes: string[]; redirectUris: string[]; issuerUrl: string | undefined } | OidcRefusal {
  const list = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
  const grantTypes = body.grantTypes === undefined ? [...defaultGrants] : list(body.grantTypes);
  if (!grantTypes || grantTypes.length === 0) {
    return { status: 400, code: "InvalidRequestException", message: "grantTypes must be a list of grant types" };
  }
  const unknown = grantTypes.find((g) => !KNOWN_GRANTS.has(g));
  if (unknown !== undefined) {
    return { status: 400, code: "UnsupportedGrantTypeException", message: `Unsupported grant type: ${unknown}` };
  }
  const redirectUris = body.redirectUris === undefined ? [] : list(body.redirectUris);
  if (!redirectUris) {
    return { status: 400, code: "InvalidRequestException", message: "redirectUris must be a list of URIs" };
  }
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem)
      return { status: 400, code: "InvalidRedirectUriException", message: `Invalid redirect URI: ${problem}` };
  }
  let issuerUrl: string | undefined;
  if (body.issuerUrl !== undefined) {
    if (typeof body.issuerUrl !== "string" || !URL.canParse(body.issuerUrl)) {
      return { status: 400, code: "InvalidRequestException", message: "issuerUrl is not a URL" };
    }
    issuerUrl = body.issuerUrl;
  }
  if (grantTypes.includes(AUTHORIZATION_CODE_GRANT)) {
    if (redirectUris.length === 0) {
      return {
        status: 400,
        code: "InvalidRedirectUriException",
        message: "redirectUris are required for the authorization_code grant",
      };
    }
    if (issuerUrl === undefined) {
      return {
        status: 400,
        code: "InvalidRequestException",
        message: "issuerUrl is required for the authorization_code grant",
      };
    }
  }
  return { grantTypes, redirectUris, issuerUrl };
}

/** The S256 transform of RFC 7636 §4.2. */
function s256(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A user agent's visit to `/authorize`, waiting for Allow or Deny. */
interface AuthorizationRequest {
  id: string;
  clientId: string;
  redirectUri: string;
  state: string | undefined;
  challenge: string;
  scopes: string[];
  expiresAt: number;
  decided: boolean;
}
interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scopes: string[];
  expiresAt: number;
  used: boolean;
  revoke: (() => void) | undefined;
}

/** What the emulator's approval page and the grant report to tests. Holds no secret. */
export interface AuthorizationRequestView {
  clientName: string;
  redirectUri: string;
  scopes: string[];
  startUrl: string;
}

/** The authorization-code grant of the SSO-OIDC emulator. */
export interface AuthorizationCodeGrant {
  /** `GET /authorize`: checks the request and serves the approval page (or, auto-approving, redirects at once). */
  authorize(ctx: EmulatorRequestContext): void;
  /** `POST /authorize`: the Allow or Deny of the approval page; redirects back to the client. */
  decide(ctx: EmulatorRequestContext): void;
  /** CreateToken's `authorization_code` grant, after the client was authenticated. */
  redeem(body: Record<string, unknown>, client: AuthorizingClient, now: number): RedeemedCode | OidcRefusal;
  onRequest(listener: (r: AuthorizationRequestView) => void): () => void;
}

function page(title: string, body: string): string {
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${xmlEscape(title)}</title></head>` +
    `<body><h1>${xmlEscape(title)}</h1>${body}</body></html>`
  );
}

/**
 * The authorization endpoint and code redemption of IAM Identity Center's authorization-code grant with PKCE:
 * `/authorize` checks the client, the redirect URI (loopback on any port), `response_type=code`, an S256
 * `code_challenge` and the scopes, and serves an approval page whose Allow and Deny redirect to the client with `code`
 * and `state` or `error=access_denied`; CreateToken then checks the code (once, unexpired, for this client), the
 * redirect URI and the verifier against the challenge. Errors a client can be redirected with are redirected
 * (RFC 6749 §4.1.2.1); a bad client or redirect URI gets an error page instead.
 */
export function createAuthorizationCodeGrant(deps: {
  client(clientId: string): AuthorizingClient | undefined;
  autoApprove: () => boolean;
  codeLifetimeSeconds: number;
}): AuthorizationCodeGrant {
  const requests = new Map<string, AuthorizationRequest>();
  const codes = new Map<string, IssuedCode>();
  const listeners = new Set<(r: AuthorizationRequestView) => void>();

  const errorPage = (ctx: EmulatorRequestContext, status: number, error: string, text: string): void => {
    ctx.res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
    ctx.res.end(page("Authorization failed", `<p>${xmlEscape(error)}: ${xmlEscape(text)}</p>`));
  };
  const redirect = (ctx: EmulatorRequestContext, to: string, params: Record<string, string | undefined>): void => {
    const u = new URL(to);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    ctx.res.writeHead(302, { location: u.toString(), "cache-control": "no-store" });
    ctx.res.end();
  };
  const issue = (ctx: EmulatorRequestContext, r: AuthorizationRequest): void => {
    const code = randomBytes(32).toString("base64url");
    codes.set(code, {
      clientId: r.clientId,
      redirectUri: r.redirectUri,
      challenge: r.challenge,
      scopes: r.scopes,
      expiresAt: ctx.now() + deps.codeLifetimeSeconds * 1000,
      used: false,
      revoke: undefined,
    });
    redirect(ctx, r.redirectUri, { code, state: r.state });
  };

  return {
    authorize(ctx) {
      const q = ctx.url.searchParams;
      const now = ctx.now();
      const client = deps.client(q.get("client_id") ?? "");
      if (!client || now >= client.expiresAt) {
        return errorPage(ctx, 400, "invalid_client", "Unknown or expired client_id.");
      }
      const redirectUri = q.get("redirect_uri") ?? "";
      if (!redirectUriAllowed(redirectUri, client.redirectUris)) {
        return errorPage(ctx, 400, "invalid_redirect_uri", "redirect_uri is not registered for this client.");
      }
      const state = q.get("state") ?? undefined;
      const fail = (error: string, description: string): void =>
        redirect(ctx, redirectUri, { error, error_description: description, state });
      if (!client.grantTypes.includes(AUTHORIZATION_CODE_GRANT)) {
        return fail("unauthorized_client", "The client is not registered for the authorization_code grant.");
      }
      if (q.get("response_type") !== "code") {
        return fail("unsupported_response_type", "response_type must be code.");
      }
      const challenge = q.get("code_challenge") ?? "";
      if (q.get("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
        return fail("invalid_request", "A code_challenge with code_challenge_method S256 is required.");
      }
      const scopes = (q.get("scopes") ?? "").split(" ").filter((s) => s !== "");
      if (scopes.some((s) => !client.scopes.includes(s))) {
        return fail("invalid_scope", "The scopes requested exceed the client's registered scopes.");
      }
      const r: AuthorizationRequest = {
        id: randomBytes(16).toString("hex"),
        clientId: client.clientId,
        redirectUri,
        state,
        challenge,
        scopes: scopes.length ? scopes : client.scopes,
        expiresAt: now + deps.codeLifetimeSeconds * 1000,
        decided: false,
      };
      const view: AuthorizationRequestView = {
        clientName: client.clientName,
        redirectUri,
        scopes: r.scopes,
        startUrl: client.issuerUrl ?? "",
      };
      for (const fn of listeners) {
        try {
          fn(view);
        } catch {
          /* a test hook's failure is the test's business */
        }
      }
      if (deps.autoApprove()) {
        r.decided = true;
        return issue(ctx, r);
      }
      requests.set(r.id, r);
      ctx.res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      ctx.res.end(
        page(
          "Allow access?",
          `<p>Allow <strong>${xmlEscape(client.clientName)}</strong> to access your data on ` +
            `${xmlEscape(view.startUrl)}?</p><p>Scopes: ${xmlEscape(r.scopes.join(", "))}</p>` +
            `<form method="post" action="/authorize"><input type="hidden" name="request" value="${r.id}">` +
            `<button type="submit" name="action" value="allow">Allow</button> ` +
            `<button type="submit" name="action" value="deny">Deny</button></form>`,
        ),
      );
    },

    decide(ctx) {
      const form = new URLSearchParams(ctx.body.toString("utf8"));
      const r = requests.get(form.get("request") ?? "");
      if (!r || r.decided || ctx.now() >= r.expiresAt) {
        return errorPage(ctx, 400, "invalid_request", "No pending authorization request (unknown, expired or used).");
      }
      r.decided = true;
      requests.delete(r.id);
      if (form.get("action") !== "allow") {
        return redirect(ctx, r.redirectUri, {
          error: "access_denied",
          error_description: "The user denied the request.",
          state: r.state,
        });
      }
      issue(ctx, r);
    },

    redeem(body, client, now) {
      const refuse = (status: number, code: string, message: string): OidcRefusal => ({ status, code, message });
      if (!client.grantTypes.includes(AUTHORIZATION_CODE_GRANT)) {
        return refuse(400, "UnauthorizedClientException", "Client is not authorized for the authorization_code grant");
      }
      if (typeof body.code !== "string" || body.code === "") {
        return refuse(400, "InvalidRequestException", "code is required");
      }
      if (typeof body.redirectUri !== "string" || body.redirectUri === "") {
        return refuse(400, "InvalidRequestException", "redirectUri is required");
      }
      if (typeof body.codeVerifier !== "string" || body.codeVerifier === "") {
        return refuse(400, "InvalidRequestException", "codeVerifier is required");
      }
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(body.codeVerifier)) {
        return refuse(400, "InvalidRequestException", "codeVerifier must be 43 to 128 unreserved characters");
      }
      const c = codes.get(body.code);
      if (!c || c.clientId !== client.clientId) {
        return refuse(400, "InvalidGrantException", "Invalid authorization code provided");
      }
      if (c.used) {
        c.revoke?.();
        return refuse(400, "InvalidGrantException", "Authorization code has already been used");
      }
      if (now >= c.expiresAt) return refuse(400, "ExpiredTokenException", "Authorization code has expired");
      if (body.redirectUri !== c.redirectUri) {
        return refuse(400, "InvalidGrantException", "redirectUri does not match the authorization request");
      }
      if (!sameText(s256(body.codeVerifier), c.challenge)) {
        return refuse(400, "InvalidGrantException", "Code verifier does not match the code challenge");
      }
      c.used = true;
      return {
        startUrl: client.issuerUrl ?? "",
        scopes: c.scopes,
        onReuse: (revoke) => (c.revoke = revoke),
      };
    },

    onRequest(listener) {
      if (typeof listener !== "function") throw new TypeError("`listener` must be a function");
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
