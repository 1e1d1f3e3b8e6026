/**
 * A long job on IAM Identity Center (SSO): the access token is refreshed in the background, the session's end is
 * warned about, and a new login is started headlessly before it, the URL and code sent to your phone by `notify`.
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { RefreshableSession } from "aws-refresh-session";

const session = new RefreshableSession({
  method: "sso",
  profile: "ml",
  // A shell command with AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE, _USER_CODE, _DEADLINE… in its environment (never
  // a token); e.g. `curl -s -d "$AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE" ntfy.sh/my-topic`. Its output is not shown.
  notify: 'printf "%s\n" "$AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE" >> "$HOME/aws-logins.txt"',
  warnBeforeMs: [3_600_000, 600_000],
});
session.on("sso-session-ending", (e) => console.warn(`SSO session ends ${e.endsAt.toISOString()} (${e.basis})`));
session.on("sso-login-required", (e) => console.warn(`approve ${e.verificationUriComplete} (code ${e.userCode})`));
session.on("sso-login-completed", (e) => console.log(`SSO login picked up (${e.by}); carrying on`));

const s3 = session.client(S3Client); // region from the profile
await s3.send(new PutObjectCommand({ Bucket: "acme-ml-runs", Key: "run-1/started", Body: new Date().toISOString() }));
const end = await session.validUntil();
console.log(`session ends ${end?.at.toISOString()}: ${end?.basis}`);
session.close();
