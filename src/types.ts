/**
 * What every credential source and session shares: the source function, the clock, the predicted end of a source's
 * underlying session, the facts a source reports about itself, and the events sources raise. The bottom of the tree:
 * it imports nothing of this project's, so every room may import it.
 */
import type { AwsCredentialIdentity } from "@smithy/types";

/**
 * A source of credentials: any SDK v3 credential provider or an async function of your own. `sourceName` names it in
 * errors, events and metrics; `sourceTimeoutMs` says how long one call may legitimately take when that is longer than
 * the engine's default (a source that waits for a person: an MFA code, an SSO login).
 */
export type CredentialSource = (() => Promise<AwsCredentialIdentity>) & {
  readonly sourceName?: string;
  readonly sourceTimeoutMs?: number;
};

/** Where the engine reads the time. Inject one to fake it in tests or to correct for clock skew. */
export interface Clock {
  now(): number;
  /**
   * The uncorrected clock behind a corrected one (a session's clock follows AWS's, and moves as its estimate of the
   * offset is refined): durations are measured on it. Default: this clock.
   */
  readonly local?: Clock;
}

/** What every {@link SessionEnd} says: when, and what the prediction rests on. */
export interface SessionEndBase {
  at: Date;
  /** What the prediction rests on, in words, e.g. `login at … + 8h session duration`. */
  basis: string;
}

/** Where an SSO session duration came from. */
export type SsoDurationSource = "option" | "config" | "learned" | "default";

/**
 * The predicted end of an IAM Identity Center session.
 *
 * - `legacy-token`: a legacy (non-refreshable) token; its `expiresAt` is the session's end. Exact.
 * - `ended`: a refresh was refused: the session is over. Exact.
 * - `login`: the recorded login time plus the session duration (stated, learned or the 8 h default). An estimate.
 * - `first-seen`: no login time is known (another tool logged in): at most the duration after this library first saw
 *   the session. An upper bound.
 */
export interface SsoSessionEnd extends SessionEndBase {
  source: "sso";
  kind: "legacy-token" | "ended" | "login" | "first-seen";
  /** Whether `at` is known exactly (`legacy-token`, `ended`) rather than predicted. */
  exact: boolean;
  loginAt: Date | undefined;
  durationMs: number | undefined;
  durationSource: SsoDurationSource | undefined;
}

/** The end of an MFA session (GetSessionToken): a new MFA code is needed then. */
export interface MfaSessionEnd extends SessionEndBase {
  source: "mfa";
  /** The MFA device. */
  serialNumber: string;
}

/**
 * The end of what an X.509 certificate allows (IoT Core credentials provider, IAM Roles Anywhere): no credential can
 * be had once the certificate (or one of its intermediates) expires, until a renewed one is on disk.
 */
export interface CertificateSessionEnd extends SessionEndBase {
  source: "certificate";
  /** Which certificate expires first: the leaf or one of the intermediates sent with it. */
  kind: "leaf" | "intermediate";
  /** Its subject, e.g. `CN=sensor-7, O=Acme`. */
  subject: string;
  /** Its serial number in decimal (serials run to 20 bytes, past what a JS number holds). */
  serialNumber: string;
  /** Where it is read from: a file path, `PEM text` or a PKCS#11 token. */
  location: string;
}

/**
 * The end of an `aws login` session (console credentials): its refresh token is refused after it, and a new
 * `aws login` is needed.
 *
 * - `ended`: the sign-in service refused a refresh (`TOKEN_EXPIRED`, or the password changed): the session is over. Exact.
 * - `login`: the login time (the `iat` of the cached `idToken`, which `aws login` writes once per login) plus the
 *   longest an `aws login` session lasts (12 h unless told otherwise). An upper bound: the console session may be
 *   shorter.
 * - `first-seen`: no login time is known: at most the duration after this process first saw the login. An upper bound.
 */
export interface LoginSessionEnd extends SessionEndBase {
  source: "login";
  kind: "ended" | "login" | "first-seen";
  /** Whether `at` is known exactly (`ended`) rather than predicted. */
  exact: boolean;
  /** The profile's `login_session` (the console session's ARN). */
  loginSession: string;
  loginAt: Date | undefined;
}

/**
 * When a source's underlying session (SSO, MFA, certificate, `aws login`) ends, and what the prediction rests on: a union tagged by `source`.
 *
 * @example
 * ```ts
 * const end = await session.validUntil();
 * if (end?.source === "sso" && !end.exact) console.log(`predicted from ${end.durationSource}`);
 * ```
 */
export type SessionEnd = SsoSessionEnd | MfaSessionEnd | CertificateSessionEnd | LoginSessionEnd;

/**
 * One fact a source reports about itself for `aws-refresh status` (e.g. an SSO access token's expiry, the cache
 * file's mode). Holds no secret.
 */
export interface SourceStatusItem {
  /** Stable machine key, e.g. `sso.accessTokenExpiresAt`. */
  key: string;
  /** Human label, e.g. `SSO access token expires`. */
  label: string;
  value: string | number | boolean | null;
  /** Set when this fact is a problem: what is wrong and what to do about it. */
  problem?: string;
}

/** Payload of the `sso-session-ending` event. */
export interface SsoSessionEnding {
  profile: string | undefined;
  ssoSession: string | undefined;
  /** Predicted end of the session. */
  endsAt: Date;
  /** What the prediction rests on. */
  basis: string;
  /** Time left when the event fired. */
  remainingMs: number;
  /** The `warnBeforeMs` lead time this warning is for. */
  leadMs: number;
}

/** Payload of the `sso-login-completed` event: a new login was picked up. */
export interface SsoLoginCompleted {
  profile: string | undefined;
  ssoSession: string | undefined;
  /** `aws-refresh` performed it (device flow, or the browser flow with PKCE), or another tool / process wrote the cache. */
  by: "device-authorization" | "authorization-code" | "cache";
  sessionEndsAt: Date | undefined;
}

/** Payload of the `sso-login-required` event and what the notify hook is told. Holds no token. */
export interface SsoLoginRequired {
  /** The profile, when the session was made from one. */
  profile: string | undefined;
  /** The sso-session name; undefined for a legacy profile. */
  ssoSession: string | undefined;
  startUrl: string;
  /**
   * How the login is approved: `device-code` (open the page on any device, check the code) or
   * `authorization-code` (the browser opened on this machine; PKCE with a loopback redirect). Absent: device code.
   */
  flow?: "device-code" | "authorization-code";
  /** Page where the user approves the login (for the browser flow: the authorization URL, on this machine only). */
  verificationUri: string;
  /** The same page with the code filled in: open this one. */
  verificationUriComplete: string;
  /** Code the user checks (or types) on the page, e.g. `BCDF-GHJK`; empty for the browser flow, which has none. */
  userCode: string;
  /** When this code expires; a new one is issued (and notified) if the login is still needed then. */
  expiresAt: Date;
  /** Why a login is needed. */
  reason: "session-ending" | "session-ended" | "no-token";
  /** The predicted end of the current session, when known. */
  sessionEndsAt: Date | undefined;
}

/**
 * Payload of the `certificate-expiring` event: the certificate expires before the credential just obtained with it, so
 * the next refresh will fail unless a renewed certificate is on disk by then.
 */
export interface CertificateExpiring {
  /** The credential source, e.g. `roles-anywhere:arn:aws:iam::123456789012:role/etl`. */
  source: string;
  /** When the certificate (or the intermediate that expires first) stops being valid. */
  notAfter: Date;
  /** Expiry of the credential obtained with it. */
  credentialExpiration: Date;
  kind: "leaf" | "intermediate";
  subject: string;
  /** Decimal. */
  serialNumber: string;
  /** A file path, `PEM text` or a PKCS#11 token. */
  location: string;
  /** Time left before `notAfter` when the event fired. */
  remainingMs: number;
}

/** Payload of the `login-session-ending` event: an `aws login` session ends within one of the `warnBeforeMs` lead times. */
export interface LoginSessionEnding {
  profile: string | undefined;
  /** The profile's `login_session` (the console session's ARN). */
  loginSession: string;
  /** Predicted end of the session. */
  endsAt: Date;
  /** What the prediction rests on. */
  basis: string;
  /** Time left when the event fired. */
  remainingMs: number;
  /** The `warnBeforeMs` lead time this warning is for. */
  leadMs: number;
}

/** Payload of the `login-completed` event: a new `aws login` for the session's profile was found in the cache. */
export interface LoginCompleted {
  profile: string | undefined;
  loginSession: string;
}

/** The events a source raises through its session, by name. */
export interface SourceEvents {
  /** SSO: the session is predicted to end within one of the `warnBeforeMs` lead times. */
  "sso-session-ending": SsoSessionEnding;
  /** SSO: a login is needed; approve it at the URL with the code (a background device authorization is waiting). */
  "sso-login-required": SsoLoginRequired;
  /** SSO: a new login was picked up (ours or another tool's); requests continue on it. */
  "sso-login-completed": SsoLoginCompleted;
  /** Certificate sources: the certificate expires before the credential just obtained would; renew it. */
  "certificate-expiring": CertificateExpiring;
  /** `aws login`: the session is predicted to end within one of the `warnBeforeMs` lead times; run `aws login` again. */
  "login-session-ending": LoginSessionEnding;
  /** `aws login`: a new login was picked up from the cache; requests continue on it. */
  "login-completed": LoginCompleted;
}

/** How a source raises one of its {@link SourceEvents}. */
export type SourceEmitter = <E extends keyof SourceEvents>(event: E, payload: SourceEvents[E]) => void;

/** What a source is, in words: its kind (e.g. `assume-role`, `sso`) and one line describing it. */
export interface SourceDescription {
  kind: string;
  /** One line, e.g. `assume arn:aws:iam::123456789012:role/etl from profile base (static keys in ~/.aws/credentials)`. */
  description: string;
}

/**
 * A source with what it knows about itself, as a method hands it to a session (and a profile's sources to the profile
 * source that chains them). Internal: what a new source implements to take part in `status()` and `validUntil()`.
 */
export interface SessionSource {
  source: CredentialSource;
  /** Region the source implies (an SSO or config profile's `region`); the session's `region` option wins. */
  region?: string | undefined;
  /**
   * The AWS config profile the source reads. The session's clients get it as their `profile`, so the SDK resolves
   * their region (and other profile settings) from it: `AWS_REGION` first, then the profile's `region`.
   */
  profile?: string | undefined;
  /** Predicted end of the underlying session, when the source can know it. */
  validUntil?(): Promise<SessionEnd | undefined>;
  /** Lets the source raise session-level events (e.g. `sso-session-ending`). */
  bindEmitter?(emit: SourceEmitter): void;
  /** Facts about the source for `aws-refresh status` (SSO token expiry, cache permissions…). */
  status?(): Promise<SourceStatusItem[]>;
  /** What the source is, in words (a profile says what it resolved to). */
  describe?(): Promise<SourceDescription>;
  /** Stops the source's own timers. */
  close?(): void;
}
