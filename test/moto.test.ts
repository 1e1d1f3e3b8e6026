import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { interopAvailable } from "./helpers/interop.js";
import { startMotoAccount, type Moto } from "./helpers/moto.js";

// A third party (moto, with IAM auth on) checks our SigV4 signatures and STS session tokens.
const moto = interopAvailable("moto");
describe.skipIf(!moto.ok)("STS source against moto_server with IAM auth on", () => {
  let server: Moto;
  let userKeys: { accessKeyId: string; secretAccessKey: string };
  const region = "us-east-1";

  beforeAll(async () => {
    // Three unauthenticated calls create a user with a key and an allow-all policy; then moto checks everything.
    ({ server, userKeys } = await startMotoAccount({ user: "ci", roles: ["etl"] }));
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("assumes the role and makes S3 calls moto accepts", async () => {
    const session = new RefreshableSession({
      method: "sts",
      assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl", RoleSessionName: "moto-test" },
      sourceCredentials: async () => userKeys,
      stsClientConfig: { endpoint: server.url },
      region,
    });
    try {
      const s3 = session.client(S3Client, { endpoint: server.url, forcePathStyle: true });
      await s3.send(new CreateBucketCommand({ Bucket: "moto-bucket" }));
      await s3.send(new PutObjectCommand({ Bucket: "moto-bucket", Key: "a.txt", Body: "hello moto" }));
      const got = await s3.send(new GetObjectCommand({ Bucket: "moto-bucket", Key: "a.txt" }));
      expect(await got.Body!.transformToString()).toBe("hello moto");
      const me = await session.client(STSClient, { endpoint: server.url }).send(new GetCallerIdentityCommand({}));
      expect(me.Arn).toContain("assumed-role/etl/moto-test");
      // A forced refresh gives a new session that moto accepts too.
      const before = (await session.credentials()).accessKeyId;
      const after = (await session.refresh()).accessKeyId;
      expect(after).not.toBe(before);
      await s3.send(new PutObjectCommand({ Bucket: "moto-bucket", Key: "b.txt", Body: "again" }));
    } finally {
      session.close();
    }
  });

  it("is refused by moto when the secret or the session token is tampered with", async () => {
    const session = new RefreshableSession({
      method: "sts",
      assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl", RoleSessionName: "moto-tamper" },
      sourceCredentials: async () => userKeys,
      stsClientConfig: { endpoint: server.url },
      region,
    });
    try {
      const good = await session.credentials();
      const send = (creds: typeof good) =>
        new STSClient({ region, endpoint: server.url, credentials: creds, maxAttempts: 1 }).send(
          new GetCallerIdentityCommand({}),
        );
      await expect(send(good)).resolves.toMatchObject({ Arn: expect.stringContaining("moto-tamper") });
      await expect(send({ ...good, secretAccessKey: `${good.secretAccessKey}x` })).rejects.toMatchObject({
        name: "SignatureDoesNotMatch",
      });
      await expect(send({ ...good, sessionToken: `${good.sessionToken}x` })).rejects.toThrow();
    } finally {
      session.close();
    }
  });
});
