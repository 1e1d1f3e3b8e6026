/**
 * The same recovery on a client you build yourself with any `refreshable()` engine: add the plugin with the engine
 * the client signs with.
 */
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { fromProfile, getExpiredTokenRecoveryPlugin, refreshable } from "aws-refresh-session";

const credentials = refreshable(fromProfile({ profile: "etl" }));
const s3 = new S3Client({ region: "us-east-1", credentials });
s3.middlewareStack.use(
  getExpiredTokenRecoveryPlugin(credentials, {
    onRecovered: (e) => console.log(`recovered ${e.operation} (${e.code})`),
  }),
);

const page = await s3.send(new ListObjectsV2Command({ Bucket: "acme-etl-data" }));
console.log(`listed ${page.KeyCount} objects`);
s3.destroy();
credentials.close();
