/**
 * STS AssumeRole with MFA, asked once per MFA session (not once per role refresh), and role chaining: a refreshable
 * is a provider, so it can be the source credentials of the next role.
 */
import { fromIni } from "@aws-sdk/credential-providers";
import { fromAssumeRole, refreshable, RefreshableSession } from "aws-refresh-session";

let prompts = 0;
const admin = new RefreshableSession({
  method: "sts",
  assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/admin", DurationSeconds: 3600 },
  sourceCredentials: fromIni({ profile: "base" }), // default: the SDK's node provider chain
  mfa: {
    serialNumber: "arn:aws:iam::123456789012:mfa/me",
    tokenCode: async () => {
      prompts++;
      return process.env.MFA_CODE ?? "123456"; // e.g. await prompt("MFA code: ")
    }, // or an argv run without a shell: ["ykman", "oath", "accounts", "code", "--single", "aws"]
    sessionDurationSeconds: 43_200,
  },
});
console.log(`admin: ${(await admin.whoami()).Arn}`);
await admin.refresh(); // a new role credential, signed by the same MFA session: no new prompt
console.log(`MFA prompts: ${prompts}; MFA session ends ${(await admin.validUntil())?.at.toISOString()}`);

const hub = refreshable(fromAssumeRole({ assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/hub" } }));
const spoke = new RefreshableSession({
  method: "sts",
  assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/spoke", ExternalId: "partner-42" },
  sourceCredentials: hub,
});
console.log(`spoke: ${(await spoke.whoami()).Arn}`);

admin.close();
spoke.close();
hub.close();
