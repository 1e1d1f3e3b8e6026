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
      expiration: c.Expiration!,
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
    // While it lives it works: AWS's clock is held 10 s back, so a slow machine cannot outlive the credential first.
    emu.setClockOffset(-10_000);
    await sts(creds).send(new GetCallerIdentityCommand({}));
    // AWS's clock passes the expiry, instead of the test waiting for it.
    emu.setClockOffset(creds.expiration!.getTime() - Date.now() + 50);
    try {
      await expect(sts(creds).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
        name: "ExpiredToken",
        message: "The security token included in the request is expired",
        $metadata: { httpStatusCode: 400 },
      });
      await expect(s3(creds).send(new ListObjectsV2Command({ Bucket: "sig" }))).rejects.toMatchObject({
        name: "ExpiredToken",
        message: "The provided token has expired.",
      });
    } finally {
      emu.setClockOffset(0);
    }
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

  it("an `expired` fault issues credentials that expired before they were issued, only on its own calls", async () => {
    const remove = emu.fault("sts:AssumeRole", { expired: true, times: 1 });
    const [dead, alive] = await Promise.all([assume(), assume()]);
    remove();
    const expirations = [dead, alive].map((c) => c.expiration!.getTime()).sort((a, b) => a - b);
    expect(expirations[0]).toBeLessThan(emu.now());
    expect(expirations[1]).toBeGreaterThan(emu.now() + 3_000_000);
    const expired = [dead, alive].find((c) => c.expiration!.getTime() < emu.now())!;
    await expect(sts(expired).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: "ExpiredToken" });
  });

  it("refuses bad options", async () => {
    expect(() => emu.fault("AssumeRole", {})).toThrow(/`operation`/);
    expect(() => emu.fault("sts:AssumeRole", { probability: 2 })).toThrow(/`spec.probability`/);
    await expect(startEmulator({ credentialLifetimeSeconds: 0 })).rejects.toThrow(/`credentialLifetimeSeconds`/);
  });
});

describe("emulator: quotas", () => {
  const ROLE = "arn:aws:iam::123456789012:role/quota";
  const assumeOnce = (): Promise<string> =>
    sts(emu.rootCredentials)
      .send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: "quota" }))
      .then(
        () => "ok",
        (e: Error & { $metadata?: { httpStatusCode?: number } }) => `${e.name}/${e.$metadata?.httpStatusCode}`,
      );

  it("a token bucket per operation: burst calls pass, the rest get STS's Throttling in STS's XML, refilled at rate", async () => {
    // A slow refill (one call per 10 s), so the test's own running time barely refills it.
    const remove = emu.quota("sts:AssumeRole", { rate: 0.1, burst: 3 });
    try {
      const before = emu.throttled("sts:AssumeRole");
      const results = await Promise.all(Array.from({ length: 5 }, assumeOnce));
      expect(results.filter((r) => r === "ok")).toHaveLength(3);
      expect(results.filter((r) => r === "Throttling/400")).toHaveLength(2);
      expect(emu.throttled("sts:AssumeRole") - before).toBe(2);
      // The exact answer AWS gives: Query-protocol XML, Sender fault.
      const raw = await fetch(emu.url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "Action=AssumeRole&Version=2011-06-15",
      });
      expect(raw.status).toBe(400);
      expect(await raw.text()).toMatch(
        /<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">\s*<Error>\s*<Type>Sender<\/Type>\s*<Code>Throttling<\/Code>\s*<Message>Rate exceeded<\/Message>\s*<\/Error>\s*<RequestId>[0-9a-f-]{36}<\/RequestId>/,
      );
      // Ten seconds at 0.1/s refill one call (the emulator's clock: its offset moves it, no sleeping).
      emu.setClockOffset(10_000);
      expect(await assumeOnce()).toBe("ok");
      expect(await assumeOnce()).toBe("Throttling/400");
      // Other operations are not limited by it.
      await expect(sts(emu.rootCredentials).send(new GetCallerIdentityCommand({}))).resolves.toBeDefined();
    } finally {
      remove();
      emu.setClockOffset(0);
    }
    expect(await assumeOnce()).toBe("ok");
  });

  it("S3 answers SlowDown 503, the SSO portal TooManyRequestsException 429; set from options or at run time", async () => {
    const q = await startEmulator({ quotas: { "s3:ListObjectsV2": { rate: 1, burst: 1 } } });
    try {
      const { addSsoServices } = await import("../src/testing.js");
      addSsoServices(q);
      const client = new S3Client({
        region,
        endpoint: q.url,
        forcePathStyle: true,
        credentials: q.rootCredentials,
        maxAttempts: 1,
      });
      await client.send(new CreateBucketCommand({ Bucket: "q" }));
      await client.send(new ListObjectsV2Command({ Bucket: "q" }));
      await expect(client.send(new ListObjectsV2Command({ Bucket: "q" }))).rejects.toMatchObject({
        name: "SlowDown",
        $metadata: { httpStatusCode: 503 },
      });
      q.quota("sso:GetRoleCredentials", { rate: 1, burst: 1 });
      const portal = (): Promise<Response> =>
        fetch(`${q.url}/federation/credentials?account_id=123456789012&role_name=ReadOnlyAccess`, {
          headers: { "x-amz-sso_bearer_token": "nope" },
        });
      expect((await portal()).status).toBe(401); // the first call passes the quota (and is refused for its token)
      const throttled = await portal();
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get("x-amzn-errortype")).toBe("TooManyRequestsException");
      expect(q.throttled()).toBe(2);
      q.clearQuotas();
      expect((await portal()).status).toBe(401);
      client.destroy();
    } finally {
      await q.close();
    }
  });

  it("refuses bad quotas naming the field; parses the CLI's --quota text", async () => {
    const { parseQuota } = await import("../src/testing.js");
    expect(() => emu.quota("AssumeRole", { rate: 1 })).toThrow(/`operation`/);
    expect(() => emu.quota("sts:AssumeRole", { rate: 0 })).toThrow(/`quota.rate`/);
    expect(() => emu.quota("sts:AssumeRole", { rate: 5, burst: 0.5 })).toThrow(/`quota.burst`/);
    await expect(startEmulator({ quotas: { "sts:AssumeRole": { rate: -1 } } })).rejects.toThrow(/`quota.rate`/);
    expect(parseQuota("sts:AssumeRole=25")).toEqual({ operation: "sts:AssumeRole", spec: { rate: 25 } });
    expect(parseQuota("sts:AssumeRole=25:50")).toEqual({ operation: "sts:AssumeRole", spec: { rate: 25, burst: 50 } });
    expect(() => parseQuota("AssumeRole=25")).toThrow(/OPERATION=RATE\[:BURST\]/);
    expect(() => parseQuota("sts:AssumeRole=0")).toThrow(/`quota.rate`/);
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
