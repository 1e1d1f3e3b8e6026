/**
 * Proving a job survives credential rotation in seconds, in a test: the emulator issues 2-second credentials,
 * checks every signature and answers an expired token exactly as AWS does; faults and revocation on demand.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { RefreshableSession } from "aws-refresh-session";
import { startEmulator } from "aws-refresh-session/testing";

const emu = await startEmulator({ credentialLifetimeSeconds: 2 });
const session = new RefreshableSession({
  method: "sts",
  assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/job" },
  sourceCredentials: async () => emu.rootCredentials, // long-term keys that open only this emulator
  stsClientConfig: { endpoint: emu.url },
  region: emu.region,
});
const s3 = session.client(S3Client, { endpoint: emu.url, forcePathStyle: true });
await s3.send(new CreateBucketCommand({ Bucket: "job" }));

emu.fault("sts:AssumeRole", { error: { code: "Throttling", status: 400 }, every: 3 }); // every third refresh fails
const until = Date.now() + 5_000; // 5 s: two and a half lifetimes
let puts = 0;
while (Date.now() < until) {
  await s3.send(new PutObjectCommand({ Bucket: "job", Key: `k${puts}`, Body: "x" }));
  puts++;
  if (puts === 50) emu.revoke((await session.getCredentials()).accessKeyId); // dead early: recovered by a replay
}
const failed = emu.requests("s3:PutObject").filter((r) => r.status !== 200).length;
console.log(`${puts} puts, ${emu.calls("sts:AssumeRole")} AssumeRole calls, ${failed} refused, all recovered`);
console.log(`recoveries=${session.metrics().recoveries}`);

session.close();
await emu.close();
