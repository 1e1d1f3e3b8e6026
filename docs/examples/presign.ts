/**
 * A presigned URL stops working when the credential that signed it expires, whatever `expiresIn` said.
 * `session.presign()` refreshes first if that helps, then says when the URL really stops working, or (strict) refuses.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { presignedUrlExpiry, RefreshableSession, RefreshSessionError } from "aws-refresh-session";

const session = new RefreshableSession({ method: "profile", profile: "etl" });
const s3 = session.client(S3Client);
const command = new GetObjectCommand({ Bucket: "acme-etl-data", Key: "2026/05/01/part-0.csv" });

const { url, expiresAt, capped } = await session.presign(s3, command, { expiresIn: 6 * 3600 });
if (capped) console.log(`capped: the link works until ${expiresAt.toISOString()}, when the role session ends`);
console.log(`the URL itself says ${presignedUrlExpiry(url)?.toISOString()}`);

try {
  await session.presign(s3, command, { expiresIn: 6 * 3600, strict: true });
} catch (err) {
  if (err instanceof RefreshSessionError && err.code === "PRESIGN_LIFETIME") console.log(`strict: ${err.code}`);
  else throw err;
}

const response = await fetch(url);
console.log(`GET ${response.status}`);
session.close();
