/**
 * The engine alone, for a client you build yourself from any SDK v3 provider. An S3Client needs a region: pass it
 * (or set AWS_REGION), or the first request fails with "Region is missing".
 */
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { fromIni } from "@aws-sdk/credential-providers";
import { refreshable } from "aws-refresh-session";

const credentials = refreshable(fromIni({ profile: "etl" }));
credentials.on("refresh", (e) =>
  console.log(`new credential ${e.accessKeyId}, expires ${e.expiration?.toISOString()}`),
);
credentials.on("refresh-failed", (e) =>
  console.warn(`refresh failed (${e.error.message}); still valid: ${e.stillValid}`),
);

const s3 = new S3Client({ region: "us-east-1", credentials });
const { Buckets = [] } = await s3.send(new ListBucketsCommand({}));
console.log(`buckets: ${Buckets.map((b) => b.Name).join(", ")}`);
console.log(`source calls so far: ${credentials.metrics().refreshes}`);

s3.destroy();
credentials.close();
