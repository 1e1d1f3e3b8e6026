import { S3Client, ListBucketsCommand } from "@aws-sdk/client-s3";
import { RefreshableSession, RefreshSessionError } from "aws-refresh-session";

// ~/.aws/config, as `aws login --profile console` (AWS CLI 2.32+) leaves it:
//   [profile console]
//   login_session = arn:aws:sts::123456789012:assumed-role/Admin/alice
//   region = eu-west-1
const session = new RefreshableSession({
  method: "profile",
  profile: "console",
  // Optional: warn 2 h and 15 min before the 12-hour login ends (default 1 h and 10 min).
  login: { warnBeforeMs: [2 * 3_600_000, 15 * 60_000] },
});
session.on("login-session-ending", (e) => {
  console.warn(`aws login session ends at ${e.endsAt.toISOString()}: run \`aws login --profile console\``);
});
session.on("login-completed", () => console.warn("new aws login picked up"));

const s3 = session.client(S3Client);
try {
  console.log(await s3.send(new ListBucketsCommand({})));
} catch (err) {
  // LOGIN_REQUIRED: the session is over (TOKEN_EXPIRED) or was never made; the message says what to run.
  if (err instanceof RefreshSessionError && err.code === "LOGIN_REQUIRED") console.error(err.message);
  else throw err;
} finally {
  session.close();
}
