/**
 * Errors have a stable `code`; match on it, never on the message. The engine wraps a source's failure on the first
 * fetch in `SOURCE_FAILED` and keeps the source's own error as `cause`: a wrong-shape credential from a custom source
 * is `e.code === "SOURCE_FAILED"` with `e.cause.code === "INVALID_CREDENTIALS"`. Errors whose message already says
 * what to do (a missing profile, an SSO login needed…) are handed on as they are.
 */
import { RefreshableSession, RefreshSessionError } from "aws-refresh-session";

function explain(err: unknown): string {
  if (!(err instanceof RefreshSessionError)) throw err;
  const cause = err.cause instanceof RefreshSessionError ? ` (cause: ${err.cause.code})` : "";
  return `${err.code}${cause} from ${err.source ?? "?"}`;
}

const broken = new RefreshableSession({
  method: "custom",
  source: async () => ({ accessKeyId: "AKIAEXAMPLE", secretAccessKey: "" }), // no secret: not a credential
});
await broken.getCredentials().catch((err: unknown) => console.log(explain(err)));
broken.close();

const missing = new RefreshableSession({ method: "profile", profile: "no-such-profile" });
await missing.getCredentials().catch((err: unknown) => {
  console.log(explain(err));
  if (err instanceof RefreshSessionError && err.code === "PROFILE_NOT_FOUND") console.log(`profile: ${err.profile}`);
});
missing.close();
