import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  verify,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Emulator, EmulatorRequestContext, EmulatorService } from "./types.js";
import { sendJson, sendJsonError } from "./xml.js";

/** The longest an `aws login` session lasts: 12 hours. */
export const DEFAULT_EMULATOR_LOGIN_SESSION_SECONDS = 12 * 3600;
/** Lifetime of the credentials the sign-in service hands out: 15 minutes. */
export const DEFAULT_EMULATOR_LOGIN_CREDENTIAL_SECONDS = 900;
/** How far a DPoP proof's `iat` may be from the server's clock. */
export const DEFAULT_EMULATOR_DPOP_MAX_SKEW_SECONDS = 300;
/** The client id `aws login` uses on the machine with the browser. */
export const LOGIN_SAME_DEVICE_CLIENT_ID = "arn:aws:signin:::devtools/same-device";

/** Options of {@link addSignin}. */
export interface SigninOptions {
  /** How long a login lasts; refreshes after it get `TOKEN_EXPIRED`. Default 43200 (12 h). */
  sessionDurationSeconds?: number;
  /** Lifetime of the credentials each refresh hands out. Default 900 (15 min). */
  credentialLifetimeSeconds?: number;
  /** How far a DPoP proof's `iat` may be from the server's clock (offset included). Default 300. */
  dpopMaxSkewSeconds?: number;
}

/** An `aws login` session as the emulator tracks it. Holds no secret. */
export interface EmulatorLoginSession {
  /** The `login_session` value: the session's ARN. */
  loginSession: string;
  loginAt: Date;
  endsAt: Date;
  /** Ended early by {@link EmulatorSignin.endSession}, or a password change. */
  ended: boolean;
  /** Successful refreshes. */
  refreshes: number;
}

/** What {@link EmulatorSignin.login} did: the profile key to set and where it wrote the cache file. */
export interface EmulatorLogin {
  loginSession: string;
  /** The cache file, when a `cacheDir` was given. */
  file: string | undefined;
  /** The token file's content, as the AWS CLI writes it (secrets included: for tests only). */
  token: Record<string, unknown>;
}

/** The emulator's sign-in service (`aws login`'s token endpoint), with the tables tests look at. */
export interface EmulatorSignin {
  service: EmulatorService;
  /**
   * Does what `aws login` does once the browser approved it: starts a session, and (with `cacheDir`) writes the
   * token file `<cacheDir>/<sha256 of login_session>.json` atomically, in the AWS CLI's format. `omitLoginTime`
   * writes it without an `idToken` (a cache whose login time is unknown).
   */
  login(options?: {
    cacheDir?: string;
    roleName?: string;
    sessionName?: string;
    loginSession?: string;
    omitLoginTime?: boolean;
  }): EmulatorLogin;
  sessions(): EmulatorLoginSession[];
  /** Ends a session now: its next refresh gets `TOKEN_EXPIRED`. */
  endSession(loginSession: string): boolean;
  /** Successful refresh-token grants, in all or for one session. */
  refreshes(loginSession?: string): number;
  /** Refresh tokens presented again after they were spent (each is a race a client lost). */
  reusedRefreshTokens(): number;
  /** Requests refused for their DPoP proof (missing, bad signature, wrong key, htm/htu/iat, replayed jti). */
  rejectedProofs(): number;
}

interface Session {
  loginSession: string;
  loginAt: number;
  endsAt: number;
  ended: boolean;
  refreshes: number;
  /** RFC 7638 thumbprint of the DPoP key the session is bound to. */
  jkt: string;
  accountId: string;
  roleArn: string;
}

function thumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash("sha256").update(canonical).digest("base64url");
}

function b64json(part: string | undefined): Record<string, unknown> | undefined {
  if (part === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Adds AWS Sign-In's token endpoint (`POST /v1/token`, CreateOAuth2Token) to an emulator: the refresh-token grant of
 * `aws login` sessions, with the DPoP proof checked as the service does (an ES256 JWT whose signature verifies with
 * the JWK in its header, that key the one the session is bound to, `htm`/`htu` this request, `iat` within the allowed
 * skew of the server's clock, a `jti` never seen before). Each refresh rotates the refresh token (a spent one is
 * refused and counted), hands out credentials that the emulator's STS and S3 accept, and after the session's end
 * answers `AccessDeniedException` with `error: TOKEN_EXPIRED`. Point `AWS_ENDPOINT_URL_SIGNIN` at `emulator.url`.
 * Counted and faulted as `signin:CreateOAuth2Token`.
 *
 * @example
 * ```ts
 * const emu = await startEmulator();
 * const signin = addSignin(emu, { credentialLifetimeSeconds: 5 });
 * const { loginSession } = signin.login({ cacheDir: "/tmp/login-cache" });
 * ```
 */
export function addSignin(emu: Emulator, options: SigninOptions = {}): EmulatorSignin {
  const sessionSeconds = options.sessionDurationSeconds ?? DEFAULT_EMULATOR_LOGIN_SESSION_SECONDS;
  const credentialSeconds = options.credentialLifetimeSeconds ?? DEFAULT_EMULATOR_LOGIN_CREDENTIAL_SECONDS;
  const skewSeconds = options.dpopMaxSkewSeconds ?? DEFAULT_EMULATOR_DPOP_MAX_SKEW_SECONDS;
  for (const [k, v] of Object.entries({ sessionSeconds, credentialSeconds, skewSeconds })) {
    if (!Number.isFinite(v) || v < 1) throw new RangeError(`\`${k}\` must be at least 1 second`);
  }
  const sessions = new Map<string, Session>();
  /** Refresh token → its session, and whether it was spent. */
  const refreshTokens = new Map<string, { session: Session; spent: boolean }>();
  const seenJti = new Set<string>();
  let reused = 0;
  let rejected = 0;

  const issueRefreshToken = (s: Session): string => {
    const t = `aorAAAAA${randomBytes(48).toString("base64url")}`;
    refreshTokens.set(t, { session: s, spent: false });
    return t;
  };

  const issueCredential = (s: Session) =>
    emu.issueCredential("login", s.roleArn, `AROAEMULATORLOGIN:${s.loginSession.split("/").pop()}`, credentialSeconds);

  /** Checks the DPoP proof; the key's thumbprint, or the reason it is refused. */
  const checkProof = (ctx: EmulatorRequestContext): { jkt: string } | { problem: string } => {
    const proof = ctx.headers.dpop;
    if (!proof) return { problem: "the DPoP header is missing" };
    const parts = proof.split(".");
    if (parts.length !== 3) return { problem: "the DPoP proof is not a JWT" };
    const header = b64json(parts[0]);
    const claims = b64json(parts[1]);
    if (!header || !claims) return { problem: "the DPoP proof's header or claims are not JSON" };
    if (header.typ !== "dpop+jwt" || header.alg !== "ES256")
      return { problem: "the DPoP proof is not an ES256 dpop+jwt" };
    const jwk = header.jwk as JsonWebKey | undefined;
    if (!jwk || jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
      return { problem: "the DPoP proof's header has no P-256 jwk" };
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, format: "jwk" });
    } catch {
      return { problem: "the DPoP proof's jwk is not a P-256 public key" };
    }
    const ok = verify(
      "sha256",
      Buffer.from(`${parts[0]}.${parts[1]}`),
      { key, dsaEncoding: "ieee-p1363" },
      Buffer.from(parts[2] as string, "base64url"),
    );
    if (!ok) return { problem: "the DPoP proof's signature does not verify with its jwk" };
    if (claims.htm !== ctx.req.method) return { problem: `the DPoP proof's htm is not ${ctx.req.method}` };
    const htu = `http://${ctx.headers.host ?? ""}${ctx.url.pathname}`;
    if (claims.htu !== htu) return { problem: `the DPoP proof's htu is not ${htu}` };
    const iat = claims.iat;
    if (typeof iat !== "number" || Math.abs(iat * 1000 - ctx.now()) > skewSeconds * 1000) {
      return { problem: "the DPoP proof's iat is too far from the server's time" };
    }
    if (typeof claims.jti !== "string" || claims.jti === "") return { problem: "the DPoP proof has no jti" };
    if (seenJti.has(claims.jti)) return { problem: "the DPoP proof's jti was used before" };
    seenJti.add(claims.jti);
    if (seenJti.size > 100_000) seenJti.delete(seenJti.values().next().value as string);
    return { jkt: thumbprint(jwk) };
  };

  const denied = (res: ServerResponse, error: string, message: string): void =>
    sendJsonError(res, 400, "AccessDeniedException", message, { error });

  const handleToken = (ctx: EmulatorRequestContext): void => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(ctx.body.toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return sendJsonError(ctx.res, 400, "ValidationException", "Request body is not valid JSON", {
        error: "INVALID_REQUEST",
      });
    }
    if (body.grantType !== "refresh_token") {
      return sendJsonError(ctx.res, 400, "ValidationException", `Unsupported grant type ${String(body.grantType)}`, {
        error: "unsupported_grant_type",
      });
    }
    const proof = checkProof(ctx);
    if ("problem" in proof) {
      rejected++;
      return sendJsonError(ctx.res, 400, "ValidationException", `Invalid DPoP proof: ${proof.problem}`, {
        error: "INVALID_REQUEST",
      });
    }
    const entry = typeof body.refreshToken === "string" ? refreshTokens.get(body.refreshToken) : undefined;
    if (!entry) return denied(ctx.res, "invalid_grant", "The refresh token is not valid");
    if (entry.session.jkt !== proof.jkt) {
      rejected++;
      return denied(ctx.res, "invalid_grant", "The DPoP key is not the one the refresh token is bound to");
    }
    if (body.clientId !== LOGIN_SAME_DEVICE_CLIENT_ID) {
      return denied(ctx.res, "invalid_grant", "The refresh token was not issued to this client");
    }
    if (entry.spent) {
      reused++;
      return denied(ctx.res, "invalid_grant", "The refresh token was already used");
    }
    const s = entry.session;
    if (s.ended || ctx.now() >= s.endsAt) {
      return denied(ctx.res, "TOKEN_EXPIRED", "Your session has expired. Please reauthenticate.");
    }
    entry.spent = true;
    s.refreshes++;
    const cred = issueCredential(s);
    sendJson(ctx.res, 200, {
      accessToken: {
        accessKeyId: cred.accessKeyId,
        secretAccessKey: cred.secretAccessKey,
        sessionToken: cred.sessionToken,
      },
      tokenType: "aws_sigv4",
      expiresIn: credentialSeconds,
      refreshToken: issueRefreshToken(s),
    });
  };

  const service: EmulatorService = {
    name: "signin",
    match: (req: IncomingMessage, url: URL) =>
      req.method === "POST" && url.pathname === "/v1/token" && !url.searchParams.has("x-amz-client-auth-method"),
    operation: () => "CreateOAuth2Token",
    sendError: (res, status, code, message) => sendJsonError(res, status, code, message),
    handle: handleToken,
  };
  emu.addService(service);

  return {
    service,
    login(o = {}) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = publicKey.export({ format: "jwk" });
      const roleName = o.roleName ?? "Admin";
      const sessionName = o.sessionName ?? `user-${randomBytes(3).toString("hex")}`;
      const loginSession = o.loginSession ?? `arn:aws:sts::${emu.accountId}:assumed-role/${roleName}/${sessionName}`;
      const now = emu.now();
      const s: Session = {
        loginSession,
        loginAt: now,
        endsAt: now + sessionSeconds * 1000,
        ended: false,
        refreshes: 0,
        jkt: thumbprint(jwk),
        accountId: emu.accountId,
        roleArn: `arn:aws:iam::${emu.accountId}:role/${roleName}`,
      };
      // A new login of the same session replaces the old one (as `aws login` overwrites the cache file).
      sessions.set(loginSession, s);
      const cred = issueCredential(s);
      const iat = Math.floor(now / 1000);
      const idToken = [
        Buffer.from(JSON.stringify({ alg: "ES384", typ: "JWT" })).toString("base64url"),
        Buffer.from(
          JSON.stringify({
            sub: loginSession,
            aud: "arn:aws:signin:::cli/same-device",
            iss: "https://signin.aws.amazon.com/signin",
            iat,
            exp: iat + 900,
          }),
        ).toString("base64url"),
        randomBytes(32).toString("base64url"),
      ].join(".");
      const token: Record<string, unknown> = {
        accessToken: {
          accessKeyId: cred.accessKeyId,
          secretAccessKey: cred.secretAccessKey,
          sessionToken: cred.sessionToken,
          accountId: emu.accountId,
          // As the AWS CLI writes it: whole seconds, no milliseconds.
          expiresAt: new Date(cred.expiration as number).toISOString().replace(/\.\d{3}Z$/, "Z"),
        },
        tokenType: "aws_sigv4",
        clientId: LOGIN_SAME_DEVICE_CLIENT_ID,
        refreshToken: issueRefreshToken(s),
        ...(o.omitLoginTime ? {} : { idToken }),
        dpopKey: privateKey.export({ format: "pem", type: "sec1" }).toString(),
      };
      let file: string | undefined;
      if (o.cacheDir !== undefined) {
        mkdirSync(o.cacheDir, { recursive: true, mode: 0o700 });
        file = join(o.cacheDir, `${createHash("sha256").update(loginSession, "utf8").digest("hex")}.json`);
        const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
        writeFileSync(tmp, JSON.stringify(token), { mode: 0o600 });
        renameSync(tmp, file);
      }
      return { loginSession, file, token };
    },
    sessions: () =>
      [...sessions.values()].map((s) => ({
        loginSession: s.loginSession,
        loginAt: new Date(s.loginAt),
        endsAt: new Date(s.endsAt),
        ended: s.ended,
        refreshes: s.refreshes,
      })),
    endSession(loginSession: string) {
      const s = sessions.get(loginSession);
      if (!s) return false;
      s.ended = true;
      return true;
    },
    refreshes: (loginSession?: string) =>
      [...sessions.values()]
        .filter((s) => loginSession === undefined || s.loginSession === loginSession)
        .reduce((n, s) => n + s.refreshes, 0),
    reusedRefreshTokens: () => reused,
    rejectedProofs: () => rejected,
  };
}
