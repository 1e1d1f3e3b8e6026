/**
 * The front-door example: whatever an AWS profile says (a role chain, MFA, SSO, web identity, credential_process,
 * static keys), kept fresh for as long as the process runs.
 */
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { RefreshableSession } from "aws-refresh-session";

const profile = process.env.AWS_PROFILE ?? "etl";
const session = new RefreshableSession({ method: "profile", profile });

const s3 = session.client(S3Client); // region from the profile; cached: one client per class and config
const { Arn } = await session.whoami();
console.log(`running as ${Arn}`);

const page = await s3.send(new ListObjectsV2Command({ Bucket: "acme-etl-data" })); // for days: never an expired key
console.log(`${page.KeyCount ?? 0} objects; credentials expire ${session.metrics().expiration?.toISOString()}`);

session.close(); // stops the background refresh timers
