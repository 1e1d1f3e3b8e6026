/**
 * Any SDK v3 credential provider given background refresh and static stability: `method: "provider"` (or
 * `fromProvider(provider)`) takes the provider function itself.
 */
import { fromIni, fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { fromProvider, refreshable, RefreshableSession } from "aws-refresh-session";

const session = new RefreshableSession({ method: "provider", provider: fromIni({ profile: "etl" }) });
console.log(`fromIni: ${(await session.whoami()).Arn}`);

const reports = refreshable(
  fromProvider(
    fromTemporaryCredentials({
      params: { RoleArn: "arn:aws:iam::123456789012:role/reports" },
      masterCredentials: fromIni({ profile: "base" }),
    }),
    { name: "reports" },
  ),
);
console.log(`fromTemporaryCredentials: expires ${(await reports()).expiration?.toISOString()}`);

session.close();
reports.close();
