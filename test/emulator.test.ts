import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  DeleteObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/testing.js";
import { interopAvailable } from "./helpers/interop.js";

let emu: Emulator;
const region = "us-east-1";

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

const sts = (credentials: AwsCredentialIdentity, extra: Record<string, unknown> = {}): STSClient =>
  new STSClient({ region, endpoint: emu.url, credentials, maxAttempts: 1, ...extra });
const s3 = (credentials: AwsCredentialIdentity, extra: Record<string, unknown> = {}): S3Client =>
  new S3Client({ region, endpoint: emu.url, forcePathStyle: true, credentials, maxAttempts: 1, ...extra });

async function assume(lifetime?: number): Promise<AwsCredentialIdentity> {
  if (lifetime !== undefined) emu.setCredentialLifetime(lifetime);
  try {
    const out = await sts(emu.rootCredentials).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${emu.accountId}:role/test`, RoleSessionName: "emu-test" }),
    );
    const c = out.Credentials!;
    return {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
      expiration: c.Expiration,
    };
  } finally {
    emu.setCredentialLifetime(3600);
  }
}

describe("emulator: signatures and credentials", () => {
  it("accepts good signatures from the SDK's clients and refuses a wrong secret with SignatureDoesNotMatch", async () => {
    const creds = await assume();
    expect((await sts(creds).send(new GetCallerIdentityCommand({}))).Arn).toBe(
      `arn:aws:sts::${emu.accountId}:assumed-role/test/emu-test`,
    );
    await s3(creds).send(new CreateBucketCommand({ Bucket: "sig" }));
    await s3(creds).send(new PutObjectCommand({ Bucket: "sig", Key: "dir/a b+c.txt", Body: "payload" }));
    const got = await s3(creds).send(new GetObjectCommand({ Bucket: "sig", Key: "dir/a b+c.txt" }));
    expect(await got.Body!.transformToString()).toBe("payload");
    const bad = { ...creds, secretAccessKey: `${creds.secretAccessKey}x` };
    await expect(sts(bad).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: "SignatureDoesNotMatch",
      $metadata: { httpStatusCode: 403 },
    });
    await expect(s3(bad).send(new GetObjectCommand({ Bucket: "sig", Key: "dir/a b+c.txt" }))).rejects.toMatchObject({
      name: "SignatureDoesNotMatch",
    });
  });

  it("answers an unknown key as AWS does per service", async () => {
    const unknown = { accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x" };
    await expect(sts(unknown).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: "InvalidClientTokenId",
      $metadata: { httpStatusCode: 403 },
    });
    await expect(s3(unknown).send(new ListObjectsV2Command({ Bucket: "sig" }))).rejects.toMatchObject({
      name: "InvalidAccessKeyId",
      $metadata: { httpStatusCode: 403 },
    });
  });

  it("issues credentials as short as 1 s and answers ExpiredToken once they are dead", async () => {
    const creds = await assume(1);
    expect(creds.expiration!.getTime() - Date.now()).toBeLessThanOrEqual(2000);
    await sts(creds).send(new GetCallerIdentityCommand({}));
    await new Promise((r) => setTimeout(r, creds.expiration!.getTime() - Date.now() + 50));
    await expect(sts(creds).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: "ExpiredToken",
      message: "The security token included in the request is expired",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(s3(creds).send(new ListObjectsV2Command({ Bucket: "sig" }))).rejects.toMatchObject({
      name: "ExpiredToken",
      message: "The provided token has expired.",
    });
  });

  it("revoke() kills a credential before its stated expiry", async () => {
    const creds = await assume();
    await s3(creds).send(new ListObjectsV2Command({ Bucket: "sig" }));
    emu.revoke(creds.accessKeyId);
    await expect(s3(creds).send(new ListObjectsV2Command({ Bucket: "sig" }))).rejects.toMatchObject({
      name: "ExpiredToken",
    });
  });

  it("refuses a session token that does not belong to the key", async () => {
    const creds = await assume();
    await expect(
      sts({ ...creds, sessionToken: "forged" }).send(new GetCallerIdentityCommand({})),
    ).rejects.toMatchObject({
      name: "InvalidClientTokenId",
    });
  });

  it("rejects requests more than 15 minutes skewed, in each service's own words", async () => {
    const creds = await assume();
    emu.setClockOffset(20 * 60_000);
    try {
      await expect(
        sts(creds, { systemClockOffset: 0, maxAttempts: 1 }).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({
        name: "SignatureDoesNotMatch",
        message: expect.stringMatching(/^Signature expired: \d{8}T\d{6}Z is now earlier than/),
      });
      await expect(s3(creds).send(new ListObjectsV2Command({ Bucket: "sig" }))).rejects.toMatchObject({
        name: "RequestTimeTooSkewed",
        $metadata: { httpStatusCode: 403 },
      });
      // The SDK corrects its clock from the Date header and succeeds on retry: the emulator's Date is its own clock.
      const out = await sts(creds, { maxAttempts: 3 }).send(new GetCallerIdentityCommand({}));
      expect(out.Account).toBe(emu.accountId);
    } finally {
      emu.setClockOffset(0);
    }
  });
});

describe("emulator: presigned URLs", () => {
  it("serves a valid presigned GET, and answers expired ones and expired tokens as S3 does", async () => {
    const creds = await assume();
    await s3(creds).send(new CreateBucketCommand({ Bucket: "pre" }));
    await s3(creds).send(new PutObjectCommand({ Bucket: "pre", Key: "k", Body: "presigned body" }));
    const url = await getSignedUrl(s3(creds), new GetObjectCommand({ Bucket: "pre", Key: "k" }), { expiresIn: 60 });
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("presigned body");

    const short = await getSignedUrl(s3(creds), new GetObjectCommand({ Bucket: "pre", Key: "k" }), { expiresIn: 1 });
    emu.setClockOffset(5_000);
    try {
      const expired = await fetch(short);
      expect(expired.status).toBe(403);
      const text = await expired.text();
      expect(text).toContain("<Code>AccessDenied</Code>");
      expect(text).toContain("<Message>Request has expired</Message>");
      expect(text).toContain("<X-Amz-Expires>1</X-Amz-Expires>");
    } finally {
      emu.setClockOffset(0);
    }

    const tampered = url.replace(/X-Amz-Signature=[0-9a-f]{4}/, "X-Amz-Signature=0000");
    expect((await fetch(tampered)).status).toBe(403);

    emu.revoke(creds.accessKeyId);
    const dead = await fetch(url);
    expect(dead.status).toBe(400);
    expect(await dead.text()).toContain("<Code>ExpiredToken</Code>");
  });

  it("rejects X-Amz-Expires beyond a week", async () => {
    const creds = await assume();
    const url = await getSignedUrl(s3(creds), new GetObjectCommand({ Bucket: "pre", Key: "k" }), { expiresIn: 3600 });
    const res = await fetch(url.replace("X-Amz-Expires=3600", "X-Amz-Expires=604801"));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("AuthorizationQueryParametersError");
  });
});

describe("emulator: S3 subset", () => {
  it("lists with prefix and delimiter, deletes, and completes a multipart upload with lib-storage", async () => {
    const creds = await assume();
    const client = s3(creds, { maxAttempts: 3 });
    await client.send(new CreateBucketCommand({ Bucket: "mp" }));
    for (const k of ["a/1", "a/2", "b/1", "c"])
      await client.send(new PutObjectCommand({ Bucket: "mp", Key: k, Body: k }));
    const top = await client.send(new ListObjectsV2Command({ Bucket: "mp", Delimiter: "/" }));
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/", "b/"]);
    expect(top.Contents?.map((c) => c.Key)).toEqual(["c"]);
    const a = await client.send(new ListObjectsV2Command({ Bucket: "mp", Prefix: "a/" }));
    expect(a.KeyCount).toBe(2);
    await client.send(new DeleteObjectCommand({ Bucket: "mp", Key: "c" }));
    await expect(client.send(new GetObjectCommand({ Bucket: "mp", Key: "c" }))).rejects.toMatchObject({
      name: "NoSuchKey",
    });

    const body = Buffer.alloc(11 * 1024 * 1024, 7);
    body.write("start", 0);
    body.write("end", body.length - 3);
    const upload = new Upload({ client, params: { Bucket: "mp", Key: "big", Body: body }, partSize: 5 * 1024 * 1024 });
    await upload.done();
    expect(emu.calls("s3:UploadPart")).toBeGreaterThanOrEqual(3);
    expect(emu.calls("s3:CompleteMultipartUpload")).toBe(1);
    expect(emu.s3.object("mp", "big")!.equals(body)).toBe(true);
  });
});

describe("emulator: faults", () => {
  it("every Nth call, a limited number of times, with the service's error format", async () => {
    const creds = await assume();
    const remove = emu.fault("sts:GetCallerIdentity", {
      error: { code: "Throttling", status: 400, message: "Rate exceeded" },
      every: 3,
    });
    const results: string[] = [];
    for (let i = 0; i < 6; i++) {
      results.push(
        await sts(creds)
          .send(new GetCallerIdentityCommand({}))
          .then(
            () => "ok",
            (e: Error) => e.name,
          ),
      );
    }
    remove();
    expect(results).toEqual(["ok", "ok", "Throttling", "ok", "ok", "Throttling"]);
    emu.fault("s3:ListObjectsV2", { error: { code: "SlowDown", status: 503 }, times: 1 });
    await expect(s3(creds).send(new ListObjectsV2Command({ Bucket: "mp" }))).rejects.toMatchObject({
      name: "SlowDown",
    });
    await expect(s3(creds).send(new ListObjectsV2Command({ Bucket: "mp" }))).resolves.toBeDefined();
  });

  it("a seeded probability fires on the same calls in every run", async () => {
    const creds = await assume();
    const run = async (): Promise<string> => {
      const remove = emu.fault("sts:GetCallerIdentity", {
        error: { code: "InternalFailure", status: 500 },
        probability: 0.5,
        seed: 7,
      });
      let pattern = "";
      for (let i = 0; i < 12; i++) {
        pattern += await sts(creds)
          .send(new GetCallerIdentityCommand({}))
          .then(
            () => ".",
            () => "x",
          );
      }
      remove();
      return pattern;
    };
    const first = await run();
    expect(first).toMatch(/x/);
    expect(first).toMatch(/\./);
    expect(await run()).toBe(first);
  });

  it("latency, connection reset and malformed answers", async () => {
    const creds = await assume();
    const removeLatency = emu.fault("sts:GetCallerIdentity", { latencyMs: 300 });
    const t0 = Date.now();
    await sts(creds).send(new GetCallerIdentityCommand({}));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    removeLatency();
    const removeReset = emu.fault("sts:GetCallerIdentity", { reset: true });
    await expect(sts(creds).send(new GetCallerIdentityCommand({}))).rejects.toThrow(/socket hang up|ECONNRESET/);
    removeReset();
    const removeBad = emu.fault("sts:GetCallerIdentity", { malformed: true });
    await expect(sts(creds).send(new GetCallerIdentityCommand({}))).rejects.toThrow();
    removeBad();
    const before = emu.calls("sts:GetCallerIdentity");
    await sts(creds).send(new GetCallerIdentityCommand({}));
    expect(emu.calls("sts:GetCallerIdentity")).toBe(before + 1);
  });

  it("refuses bad options", async () => {
    expect(() => emu.fault("AssumeRole", {})).toThrow(/`operation`/);
    expect(() => emu.fault("sts:AssumeRole", { probability: 2 })).toThrow(/`spec.probability`/);
    await expect(startEmulator({ credentialLifetimeSeconds: 0 })).rejects.toThrow(/`credentialLifetimeSeconds`/);
  });
});

const boto3 = interopAvailable("boto3");
describe.skipIf(!boto3.ok)("emulator: boto3 as a second, independent signer", () => {
  it("accepts boto3's STS and S3 requests and refuses a wrong secret", async () => {
    const creds = await assume();
    const script = `
import boto3, sys, botocore
kw = dict(region_name="us-east-1", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], aws_session_token=sys.argv[4])
print(boto3.client("sts", **kw).get_caller_identity()["Arn"])
s3 = boto3.client("s3", **kw)
s3.create_bucket(Bucket="boto-bucket")
s3.put_object(Bucket="boto-bucket", Key="from/python.txt", Body=b"hi from boto3")
print(s3.get_object(Bucket="boto-bucket", Key="from/python.txt")["Body"].read().decode())
print(len(s3.list_objects_v2(Bucket="boto-bucket")["Contents"]))
kw["aws_secret_access_key"] += "x"
try:
    boto3.client("sts", **kw).get_caller_identity()
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
`;
    // Asynchronously: the emulator answers from this very process, so a blocking spawn would deadlock.
    const out = await promisify(execFile)(
      "python3",
      ["-c", script, emu.url, creds.accessKeyId, creds.secretAccessKey, creds.sessionToken!],
      {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, AWS_CONFIG_FILE: "/dev/null", AWS_SHARED_CREDENTIALS_FILE: "/dev/null" },
      },
    );
    expect(out.stderr).toBe("");
    expect(out.stdout.trim().split("\n")).toEqual([
      `arn:aws:sts::${emu.accountId}:assumed-role/test/emu-test`,
      "hi from boto3",
      "1",
      "SignatureDoesNotMatch",
    ]);
  });
});
