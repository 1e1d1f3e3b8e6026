import { Readable } from "node:stream";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { AwsCredentialIdentity, FinalizeRequestMiddleware } from "@smithy/types";
import { beforeAll, describe, expect, it } from "vitest";
import {
  EXPIRED_CREDENTIAL_ERROR_CODES,
  RefreshableSession,
  expiredTokenRecoveryMiddleware,
  expiredTokenRecoveryMiddlewareOptions,
  fromAssumeRole,
  getExpiredTokenRecoveryPlugin,
  refreshable,
  type RecoveredEvent,
  type UnrecoveredEvent,
} from "../src/index.js";
import type { Emulator } from "../src/testing.js";
import { useEmulatorSessions } from "./helpers/emulatorSession.js";
import { waitFor } from "./helpers/wait.js";

const BUCKET = "recovery";
const ROLE = "arn:aws:iam::123456789012:role/recovery";
const fx = useEmulatorSessions({ role: ROLE, bucket: BUCKET, objects: { k: "value" } });
let emu: Emulator;
beforeAll(() => {
  emu = fx.emu;
});
const session = fx.session;
const s3Of = fx.s3;

/** A `custom` session over `source`, closed after the test. */
const customSession = (source: () => Promise<AwsCredentialIdentity>): RefreshableSession =>
  fx.track(new RefreshableSession({ method: "custom", source, region: emu.region }));

function events(s: RefreshableSession): { recovered: RecoveredEvent[]; failed: UnrecoveredEvent[] } {
  const out = { recovered: [] as RecoveredEvent[], failed: [] as UnrecoveredEvent[] };
  s.on("recovered", (e) => out.recovered.push(e));
  s.on("recovery-failed", (e) => out.failed.push(e));
  return out;
}

/** The key id in a SigV4 Authorization header. */
const keyOf = (authorization: unknown): string => /Credential=([^/]+)\//.exec(String(authorization))?.[1] ?? "(none)";

/** Records the Authorization header of every attempt, as the SDK sent it (after signing). */
function recordAuthorization(client: S3Client): string[] {
  const seen: string[] = [];
  const mw: FinalizeRequestMiddleware<any, any> = (next) => async (args) => {
    seen.push(keyOf((args.request as { headers: Record<string, string> }).headers.authorization));
    return next(args);
  };
  client.middlewareStack.addRelativeTo(mw, {
    name: "recordAuthorization",
    relation: "after",
    toMiddleware: "httpSigningMiddleware",
  });
  return seen;
}

describe("ExpiredToken recovery: placement", () => {
  it("sits in initialize, outside credential resolution (serialize) and retry/signing (finalizeRequest)", async () => {
    const s = session();
    const s3 = s3Of(s);
    const cmd = new GetObjectCommand({ Bucket: BUCKET, Key: "k" });
    await s3.send(cmd);
    const order = s3.middlewareStack.concat(cmd.middlewareStack).identify();
    const at = (name: string): number => order.findIndex((line) => line.startsWith(`${name} `));
    expect(order[at("expiredTokenRecoveryMiddleware")]).toBe("expiredTokenRecoveryMiddleware - initialize");
    expect(order[at("httpAuthSchemeMiddleware")]).toBe("httpAuthSchemeMiddleware - serialize");
    expect(at("expiredTokenRecoveryMiddleware")).toBeGreaterThan(-1);
    expect(at("expiredTokenRecoveryMiddleware")).toBeLessThan(at("httpAuthSchemeMiddleware"));
    expect(at("httpAuthSchemeMiddleware")).toBeLessThan(at("retryMiddleware"));
    expect(at("retryMiddleware")).toBeLessThan(at("clockSkewMiddleware"));
    expect(at("clockSkewMiddleware")).toBe(at("httpSigningMiddleware") - 1);
    // Adding the plugin again (a user who adds it to a session client) replaces it rather than stacking two.
    s3.middlewareStack.use(getExpiredTokenRecoveryPlugin(s.credentials));
    const again = s3.middlewareStack.identify().filter((l) => l.startsWith("expiredTokenRecoveryMiddleware"));
    expect(again).toHaveLength(1);
  });

  it("the replay is signed with the new key: Authorization as sent, and as the server saw it", async () => {
    const s = session();
    const s3 = s3Of(s, { maxAttempts: 1 });
    const sent = recordAuthorization(s3);
    const old = (await s.credentials()).accessKeyId;
    emu.revoke(old);
    const before = emu.requests("s3:GetObject").length;
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    expect(await out.Body!.transformToString()).toBe("value");
    const fresh = s.credentials.peek()!.accessKeyId;
    expect(fresh).not.toBe(old);
    expect(sent).toEqual([old, fresh]);
    const seen = emu.requests("s3:GetObject").slice(before);
    expect(seen.map((r) => [r.accessKeyId, r.status])).toEqual([
      [old, 400],
      [fresh, 200],
    ]);
  });
});

describe("ExpiredToken recovery: recognised codes", () => {
  /** A GetObject whose first send is answered with `code`: what it cost in refreshes and sends. */
  async function getOnceFailing(code: string, status: number, message: string) {
    const s = session();
    const { recovered } = events(s);
    const s3 = s3Of(s);
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    const refreshes = s.metrics().refreshes;
    const calls = emu.calls("s3:GetObject");
    emu.fault("s3:GetObject", { error: { code, status, message }, times: 1 });
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    return {
      s,
      recovered,
      out,
      refreshes: s.metrics().refreshes - refreshes,
      sends: emu.calls("s3:GetObject") - calls,
    };
  }

  it.each(EXPIRED_CREDENTIAL_ERROR_CODES)(
    "%s: exactly one refresh and one replay; the caller sees success",
    async (code) => {
      const { s, recovered, out, refreshes, sends } = await getOnceFailing(code, 400, "injected");
      expect(await out.Body!.transformToString()).toBe("value");
      expect(refreshes).toBe(1);
      expect(sends).toBe(2);
      expect(recovered).toEqual([
        expect.objectContaining({
          code,
          kind: "credential",
          operation: "GetObject",
          service: "S3",
          attempts: 2,
          refreshed: true,
        }),
      ]);
      expect(recovered[0]!.accessKeyId).not.toBe(recovered[0]!.previousAccessKeyId);
      expect(s.metrics().recoveries).toBe(1);
    },
  );

  it.each([
    ["RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."],
    ["RequestInTheFuture", 400, "Request is not yet valid"],
    ["SignatureDoesNotMatch", 403, "Signature expired: 20260101T000000Z is now earlier than 20260101T000100Z"],
    [
      "InvalidSignatureException",
      400,
      "Signature not yet current: 20260101T003000Z is still later than 20260101T001500Z",
    ],
  ])("%s (expired signature): one replay, re-signed, no refresh", async (code, status, message) => {
    const { recovered, refreshes, sends } = await getOnceFailing(code, status, message);
    expect(refreshes).toBe(0);
    expect(sends).toBe(2);
    expect(recovered).toEqual([expect.objectContaining({ code, kind: "signature", attempts: 2, refreshed: false })]);
  });

  it("a real signature mismatch and other errors are never replayed", async () => {
    const s = session();
    const s3 = s3Of(s);
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    for (const [code, status] of [
      ["SignatureDoesNotMatch", 403],
      ["AccessDenied", 403],
      ["NoSuchKey", 404],
    ] as const) {
      const calls = emu.calls("s3:GetObject");
      emu.fault("s3:GetObject", { error: { code, status, message: "The request signature we calculated…" }, times: 1 });
      await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }))).rejects.toMatchObject({ name: code });
      expect(emu.calls("s3:GetObject") - calls).toBe(1);
    }
    expect(s.metrics().recoveries).toBe(0);
    expect(s.metrics().recoveryFailures).toBe(0);
  });

  it("STS's ExpiredToken (Query protocol) and a HEAD's bodiless 400 recover too", async () => {
    const s = session();
    const { recovered } = events(s);
    await s.whoami();
    emu.revoke(s.credentials.peek()!.accessKeyId);
    expect((await s.whoami()).Account).toBe(emu.accountId);
    emu.revoke(s.credentials.peek()!.accessKeyId);
    const head = await s3Of(s).send(new HeadObjectCommand({ Bucket: BUCKET, Key: "k" }));
    expect(head.ContentLength).toBe(5);
    expect(recovered.map((e) => [e.operation, e.code])).toEqual([
      ["GetCallerIdentity", "ExpiredToken"],
      ["HeadObject", "ExpiredToken"],
    ]);
    expect(s.metrics().refreshes).toBe(3);
  });
});

describe("ExpiredToken recovery: limits", () => {
  it("a second failure surfaces, with advice; maxReplays lets it try again", async () => {
    const s = session();
    const { failed } = events(s);
    const s3 = s3Of(s);
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    const refreshes = s.metrics().refreshes;
    const calls = emu.calls("s3:GetObject");
    emu.fault("s3:GetObject", { error: { code: "ExpiredToken", status: 400 }, times: 2 });
    const err = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" })).catch((e: Error) => e);
    expect(err).toMatchObject({ name: "ExpiredToken", $metadata: { httpStatusCode: 400 } });
    expect((err as Error).message).toMatch(
      /\[aws-refresh-session: replayed 1 time\(s\) with a new credential \(\*{4}\w{4}\)/,
    );
    expect(emu.calls("s3:GetObject") - calls).toBe(2);
    expect(s.metrics().refreshes - refreshes).toBe(1);
    expect(failed).toEqual([
      expect.objectContaining({ reason: "replays-exhausted", code: "ExpiredToken", attempts: 2 }),
    ]);
    expect(s.metrics().recoveryFailures).toBe(1);

    const patient = session({ recovery: { maxReplays: 2 } });
    const s3b = s3Of(patient);
    await s3b.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    const before = patient.metrics().refreshes;
    emu.fault("s3:GetObject", { error: { code: "ExpiredToken", status: 400 }, times: 2 });
    await s3b.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    expect(patient.metrics().refreshes - before).toBe(2);
  });

  it("a one-shot stream body is not replayed; the original error says why; a Buffer body is", async () => {
    const s = session();
    const { failed, recovered } = events(s);
    const s3 = s3Of(s, { maxAttempts: 1 });
    emu.revoke((await s.credentials()).accessKeyId);
    const err = await s3
      .send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: "stream",
          Body: Readable.from([Buffer.from("abc")]),
          ContentLength: 3,
        }),
      )
      .catch((e: Error) => e);
    expect(err).toMatchObject({ name: "ExpiredToken" });
    expect((err as Error).message).toContain("one-shot stream");
    expect(failed).toEqual([expect.objectContaining({ reason: "one-shot-body", operation: "PutObject" })]);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "buffer", Body: Buffer.from("abc") }));
    expect(emu.s3.object(BUCKET, "buffer")?.toString()).toBe("abc");
    expect(recovered).toHaveLength(1);
  });

  it("never replays with the same token: a source that hands back the dead credential surfaces the error", async () => {
    const dead = await session().credentials();
    const s = customSession(async () => dead);
    const { failed } = events(s);
    const s3 = s3Of(s);
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    emu.revoke(dead.accessKeyId);
    const calls = emu.calls("s3:GetObject");
    const err = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" })).catch((e: Error) => e);
    expect(err).toMatchObject({ name: "ExpiredToken" });
    expect((err as Error).message).toMatch(/returned the refused credential \*{4}\w{4} again/);
    expect(emu.calls("s3:GetObject") - calls).toBe(1);
    expect(failed).toEqual([expect.objectContaining({ reason: "same-credential" })]);
  });

  it("a refresh that fails surfaces the original error with the refresh failure in its message", async () => {
    let calls = 0;
    const good = await session().credentials();
    const s = customSession(async () => {
      if (calls++ > 0) throw new Error("identity broker unreachable");
      return good;
    });
    const { failed } = events(s);
    const s3 = s3Of(s);
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    emu.revoke(good.accessKeyId);
    const err = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" })).catch((e: Error) => e);
    expect(err).toMatchObject({ name: "ExpiredToken" });
    expect((err as Error).message).toContain("refreshing it failed");
    expect((err as Error).message).toContain("identity broker unreachable");
    expect(failed).toEqual([expect.objectContaining({ reason: "refresh-failed" })]);
  });

  it("maxReplays: 0 turns recovery off; bad options are refused naming the option", async () => {
    const s = session({ recovery: { maxReplays: 0 } });
    const s3 = s3Of(s);
    emu.revoke((await s.credentials()).accessKeyId);
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }))).rejects.toMatchObject({
      name: "ExpiredToken",
    });
    expect(() => getExpiredTokenRecoveryPlugin((async () => emu.rootCredentials) as never)).toThrow(/`credentials`/);
    expect(() => getExpiredTokenRecoveryPlugin(s.credentials, { maxReplays: -1 })).toThrow(/`maxReplays`/);
    expect(() => getExpiredTokenRecoveryPlugin(s.credentials, { errorCodes: "ExpiredToken" as never })).toThrow(
      /`errorCodes`/,
    );
    expect(() => session({ recovery: "yes" })).toThrow(/`recovery`/);
  });
});

describe("ExpiredToken recovery: under load and over time", () => {
  it("a key revoked mid-burst of 200 concurrent requests costs one refresh, and every request succeeds", async () => {
    const s = session();
    const s3 = s3Of(s);
    const old = (await s.credentials()).accessKeyId;
    const assumes = emu.calls("sts:AssumeRole");
    const refreshes = s.metrics().refreshes;
    const startedAt = emu.now();
    let done = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" })).then(async (out) => {
          if (++done === 20) emu.revoke(old);
          return [i, await out.Body!.transformToString()];
        }),
      ),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(emu.calls("sts:AssumeRole") - assumes).toBe(1);
    expect(s.metrics().refreshes - refreshes).toBe(1);
    const refused = emu.requests("s3:GetObject").filter((r) => r.at.getTime() >= startedAt && r.status === 400);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((r) => r.accessKeyId))).toEqual(new Set([old]));
    expect(s.metrics().recoveries).toBe(refused.length);
  });

  it("a request held past its token's life (between signing and sending) recovers", async () => {
    emu.setCredentialLifetime(4);
    for (const mode of ["eager", "deferred"] as const) {
      const s = session({ refresh: { mode } });
      const { recovered } = events(s);
      const s3 = s3Of(s, { maxAttempts: 1 });
      let held = false;
      const hold: FinalizeRequestMiddleware<any, any> = (next) => async (args) => {
        if (!held) {
          held = true;
          const signedWith = keyOf((args.request as { headers: Record<string, string> }).headers.authorization);
          const expiry = emu.credential(signedWith)!.expiration!;
          // Eager: while the request is held, the engine rotates on its own. The first rotation is spread over the
          // first credential's life and may come early, leaving a credential that ends soon after the one signed
          // with; wait for one that outlives it by 1.5 s, so that AWS's clock moved past the old one's end leaves
          // the new one valid (and the recovery has no reason to refresh).
          if (mode === "eager") {
            await waitFor(
              () => {
                const now = s.credentials.peek();
                return now !== undefined && now.accessKeyId !== signedWith && now.expiration!.getTime() > expiry + 1500;
              },
              { what: "a background rotation" },
            );
          }
          // The request reaches AWS after its credential's end: AWS's clock moves there rather than the test waiting.
          emu.setClockOffset(expiry - Date.now() + 50);
        }
        return next(args);
      };
      s3.middlewareStack.addRelativeTo(hold, {
        name: "hold",
        relation: "after",
        toMiddleware: "httpSigningMiddleware",
      });
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
        expect(await out.Body!.transformToString()).toBe("value");
        expect(held).toBe(true);
        expect(recovered).toHaveLength(1);
        // Eager: the engine rotated in the background while the request was held, so no refresh was forced.
        expect(recovered[0]).toMatchObject({ code: "ExpiredToken", refreshed: mode === "deferred" });
      } finally {
        emu.setClockOffset(0);
      }
    }
  });

  it("a lib-storage Upload whose parts span at least 3 rotations completes", async () => {
    emu.setCredentialLifetime(60);
    // The session's clock and the emulator's move on together (no real waiting, so no race with a busy machine).
    let elapsed = 0;
    const s = session({ refresh: { clock: { now: () => Date.now() + elapsed } } });
    const s3 = s3Of(s);
    const body = Buffer.alloc(6 * 5 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    // A slow link: each of the first 3 parts reaches S3 a minute after it was signed, when its 60 s credential has
    // expired. S3 refuses it and the recovery replays it with a new credential, so the upload spans 3 rotations.
    const late = new Set<number>();
    const slowLink: FinalizeRequestMiddleware<any, any> = (next, context) => async (args) => {
      const part = (args.input as { PartNumber?: number }).PartNumber;
      if (context.commandName === "UploadPartCommand" && part !== undefined && part <= 3 && !late.has(part)) {
        late.add(part);
        elapsed += 61_000;
        emu.setClockOffset(elapsed);
      }
      return next(args);
    };
    s3.middlewareStack.addRelativeTo(slowLink, {
      name: "slowLink",
      relation: "after",
      toMiddleware: "httpSigningMiddleware",
    });
    const before = emu.requests("s3:UploadPart").length;
    const upload = new Upload({
      client: s3,
      params: { Bucket: BUCKET, Key: "big", Body: body },
      partSize: 5 * 1024 * 1024,
      queueSize: 1,
    });
    await upload.done();
    expect(emu.s3.object(BUCKET, "big")!.equals(body)).toBe(true);
    const parts = emu
      .requests("s3:UploadPart")
      .slice(before)
      .filter((r) => r.status === 200);
    expect(parts).toHaveLength(6);
    expect(new Set(parts.map((r) => r.accessKeyId)).size).toBeGreaterThanOrEqual(3);
    expect(late).toEqual(new Set([1, 2, 3]));
    expect(s.metrics().recoveries).toBe(3); // each late part, once
  });
});

describe("ExpiredToken recovery: alongside the SDK's own retry and clock-skew correction", () => {
  it("a 503 is retried by the SDK (no refresh, no replay)", async () => {
    const s = session();
    const s3 = s3Of(s);
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    const refreshes = s.metrics().refreshes;
    emu.fault("s3:GetObject", { error: { code: "SlowDown", status: 503 }, times: 1 });
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }));
    expect(out.$metadata.attempts).toBe(2);
    expect(s.metrics().refreshes).toBe(refreshes);
    expect(s.metrics().recoveries).toBe(0);
  });

  it("on any client with any refreshable: the SDK still corrects a 20-minute skew by itself", async () => {
    const credentials = refreshable(
      fromAssumeRole({
        assumeRole: { RoleArn: ROLE },
        sourceCredentials: async () => emu.rootCredentials,
        stsClientConfig: { endpoint: emu.url, region: emu.region },
      }),
    );
    const recovered: RecoveredEvent[] = [];
    const s3 = new S3Client({ region: emu.region, endpoint: emu.url, forcePathStyle: true, credentials });
    s3.middlewareStack.use(getExpiredTokenRecoveryPlugin(credentials, { onRecovered: (e) => recovered.push(e) }));
    try {
      await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      emu.setClockOffset(20 * 60_000);
      const out = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      expect(out.$metadata.attempts).toBe(2); // RequestTimeTooSkewed, corrected from Date, retried by the SDK
      expect(recovered).toEqual([]);
      expect(credentials.metrics().refreshes).toBe(1);
      emu.revoke(credentials.peek()!.accessKeyId);
      await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      expect(recovered).toEqual([expect.objectContaining({ code: "ExpiredToken", operation: "ListObjectsV2" })]);
    } finally {
      emu.setClockOffset(0);
      credentials.close();
      s3.destroy();
    }
  });

  it("the middleware alone (add with its options) works as the plugin does", async () => {
    const s = session({ recovery: false });
    const s3 = s3Of(s, { maxAttempts: 1 });
    expect(s3.middlewareStack.identify().some((l) => l.startsWith("expiredTokenRecoveryMiddleware"))).toBe(false);
    emu.revoke((await s.credentials()).accessKeyId);
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }))).rejects.toMatchObject({
      name: "ExpiredToken",
    });
    s3.middlewareStack.add(expiredTokenRecoveryMiddleware(s.credentials), expiredTokenRecoveryMiddlewareOptions);
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "k" }))).resolves.toBeDefined();
  });
});

describe("emulator: multipart upload answers", () => {
  it("refuses parts out of order, a wrong ETag and a small non-last part, as S3 does; Abort removes the upload", async () => {
    const s3 = new S3Client({
      region: emu.region,
      endpoint: emu.url,
      forcePathStyle: true,
      credentials: emu.rootCredentials,
    });
    const {
      CreateMultipartUploadCommand,
      UploadPartCommand,
      CompleteMultipartUploadCommand,
      AbortMultipartUploadCommand,
    } = await import("@aws-sdk/client-s3");
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "mp" }));
    const p1 = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: "mp", UploadId, PartNumber: 1, Body: "small" }),
    );
    const p2 = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: "mp", UploadId, PartNumber: 2, Body: "last" }),
    );
    const complete = (Parts: { ETag?: string | undefined; PartNumber: number }[]) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: "mp", UploadId, MultipartUpload: { Parts } }));
    await expect(
      complete([
        { ETag: p2.ETag, PartNumber: 2 },
        { ETag: p1.ETag, PartNumber: 1 },
      ]),
    ).rejects.toMatchObject({ name: "InvalidPartOrder", $metadata: { httpStatusCode: 400 } });
    await expect(complete([{ ETag: '"0000"', PartNumber: 1 }])).rejects.toMatchObject({ name: "InvalidPart" });
    await expect(
      complete([
        { ETag: p1.ETag, PartNumber: 1 },
        { ETag: p2.ETag, PartNumber: 2 },
      ]),
    ).rejects.toMatchObject({ name: "EntityTooSmall" });
    const single = await complete([{ ETag: p1.ETag, PartNumber: 1 }]);
    expect(single.ETag).toMatch(/-1"$/);
    expect(emu.s3.object(BUCKET, "mp")?.toString()).toBe("small");
    const second = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "mp2" }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: "mp2", UploadId: second.UploadId }));
    await expect(
      s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: "mp2", UploadId: second.UploadId, PartNumber: 1, Body: "x" }),
      ),
    ).rejects.toMatchObject({ name: "NoSuchUpload", $metadata: { httpStatusCode: 404 } });
    s3.destroy();
  });
});
