import { GetObjectCommand, PutObjectCommand, CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefreshSessionError } from "../src/errors.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { startEmulator, type Emulator } from "../src/testing.js";
import { demoJob } from "../src/cli/demo.js";
import { Writable } from "node:stream";

let emu: Emulator;

const savedEndpoint = process.env.AWS_ENDPOINT_URL;
beforeAll(async () => {
  emu = await startEmulator({ credentialLifetimeSeconds: 3600 });
  // Every client the session builds (whoami's STS client too) resolves its endpoint from the environment, as in the SDK.
  process.env.AWS_ENDPOINT_URL = emu.url;
});
afterAll(async () => {
  if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
  else process.env.AWS_ENDPOINT_URL = savedEndpoint;
  await emu.close();
});

function stsSession(extra: Record<string, unknown> = {}): RefreshableSession {
  return new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: `arn:aws:iam::${emu.accountId}:role/session-test` },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig: { endpoint: emu.url },
    region: emu.region,
    ...extra,
  } as never);
}

describe("RefreshableSession", () => {
  it("whoami answers with the assumed role's identity, fetched through the session's credentials", async () => {
    const session = stsSession();
    try {
      const me = await session.whoami();
      expect(me.Account).toBe(emu.accountId);
      expect(me.Arn).toContain("assumed-role/session-test/");
      expect(emu.calls("sts:AssumeRole")).toBeGreaterThanOrEqual(1);
    } finally {
      session.close();
    }
  });

  it("client() returns the same instance for the same class and config, another for another config", () => {
    const session = stsSession();
    try {
      const a = session.client(S3Client, { endpoint: emu.url, forcePathStyle: true });
      const b = session.client(S3Client, { forcePathStyle: true, endpoint: emu.url });
      const c = session.client(S3Client, { endpoint: emu.url, forcePathStyle: false });
      const d = session.client(STSClient, { endpoint: emu.url });
      expect(b).toBe(a);
      expect(c).not.toBe(a);
      expect(d).not.toBe(a);
      expect(session.metrics().cachedClients).toBe(3);
    } finally {
      session.close();
    }
  });

  it("all cached clients share the session's one engine and region", async () => {
    const session = stsSession();
    try {
      const s3 = session.client(S3Client, { endpoint: emu.url, forcePathStyle: true });
      const sts = session.client(STSClient, { endpoint: emu.url });
      expect(await s3.config.region()).toBe(emu.region);
      const before = emu.calls("sts:AssumeRole");
      await s3.send(new CreateBucketCommand({ Bucket: "shared-engine" }));
      await s3.send(new PutObjectCommand({ Bucket: "shared-engine", Key: "k", Body: "v" }));
      await session.whoami();
      await sts.config.credentials();
      expect(emu.calls("sts:AssumeRole") - before).toBe(1);
      const got = await s3.send(new GetObjectCommand({ Bucket: "shared-engine", Key: "k" }));
      expect(await got.Body?.transformToString()).toBe("v");
    } finally {
      session.close();
    }
  });

  it("evicts the least recently used client past maxSize and destroys it", () => {
    const session = stsSession({ clientCache: { maxSize: 2 } });
    try {
      const a = session.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 1 });
      let destroyed = 0;
      const destroy = a.destroy.bind(a);
      a.destroy = () => {
        destroyed++;
        destroy();
      };
      const b = session.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 2 });
      session.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 1 }); // touch a
      session.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 3 }); // evicts b
      expect(destroyed).toBe(0);
      expect(session.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 1 })).toBe(a);
      expect(session.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 2 })).not.toBe(b);
      session.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 4 }); // evicts a
      expect(destroyed).toBe(1);
    } finally {
      session.close();
    }
  });

  it("clientCache: false builds a new client each time", () => {
    const session = stsSession({ clientCache: false });
    try {
      expect(session.client(S3Client)).not.toBe(session.client(S3Client));
    } finally {
      session.close();
    }
  });

  it("refuses bad options with errors naming the option", () => {
    expect(() => new RefreshableSession({ method: "nope" } as never)).toThrow(/`method` must be one of/);
    expect(() => new RefreshableSession(undefined as never)).toThrow(TypeError);
    expect(() => stsSession({ region: "" })).toThrow(/`region`/);
    expect(() => stsSession({ clientCache: { maxSize: 0 } })).toThrow(RangeError);
    expect(() => stsSession({ refresh: { jitter: 2 } })).toThrow(/`jitter`/);
    // Typos are refused by name, with the option meant, instead of being ignored.
    expect(() => stsSession({ regoin: "eu-west-1" } as never)).toThrow(
      /Unknown option `regoin` \(did you mean `region`\?\) for method "sts"; known: method, region, refresh/,
    );
    expect(() => stsSession({ refresh: { advisory: 60_000 } } as never)).toThrow(
      /Unknown option `advisory` \(did you mean `advisoryMs`\?\) in `refresh`/,
    );
    expect(() => new RefreshableSession({ method: "profile", profil: "dev" } as never)).toThrow(
      /`profil` \(did you mean `profile`\?\) for method "profile"/,
    );
    expect(() => stsSession({ colour: "blue" } as never)).toThrow(/Unknown option `colour` for method "sts"/);
    const session = stsSession();
    try {
      expect(() => session.client(S3Client, { credentials: emu.rootCredentials } as never)).toThrow(
        /`config.credentials`/,
      );
    } finally {
      session.close();
    }
  });

  it("close() destroys clients and later use fails with code CLOSED", async () => {
    const session = stsSession();
    session.client(S3Client);
    session.close();
    expect(() => session.client(S3Client)).toThrow(RefreshSessionError);
    await expect(session.credentials()).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("custom and provider methods feed the same engine", async () => {
    let calls = 0;
    const custom = new RefreshableSession({
      method: "custom",
      source: async () => {
        calls++;
        return { ...emu.rootCredentials, expiration: new Date(Date.now() + 3600_000) };
      },
      region: emu.region,
    });
    const provider = new RefreshableSession({
      method: "provider",
      provider: async () => emu.rootCredentials,
      region: emu.region,
    });
    try {
      const sts1 = custom.client(STSClient, { endpoint: emu.url });
      const sts2 = provider.client(STSClient, { endpoint: emu.url });
      await Promise.all([sts1.config.credentials(), sts1.config.credentials(), custom.whoami()]);
      expect(calls).toBe(1);
      expect((await provider.whoami()).Account).toBe(emu.accountId);
      expect(sts2).toBeDefined();
    } finally {
      custom.close();
      provider.close();
    }
  });

  it("util.inspect of a session shows no secret", async () => {
    const { inspect } = await import("node:util");
    const session = stsSession();
    try {
      const creds = await session.credentials();
      const shown = inspect(session, { depth: 5 }) + inspect(session.credentials) + JSON.stringify(session.metrics());
      expect(shown).not.toContain(creds.secretAccessKey);
      expect(shown).not.toContain(creds.sessionToken);
    } finally {
      session.close();
    }
  });
});

describe("demo job", () => {
  it("runs S3 writes and reads across several rotations with zero failures", async () => {
    let text = "";
    const sink = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    });
    const summary = await demoJob(
      { durationSeconds: 4, concurrency: 8, lifetimeSeconds: 1 },
      { stdout: sink, stderr: sink },
    );
    expect(summary.failures).toBe(0);
    expect(summary.requests).toBeGreaterThan(50);
    // 1 s credentials over 4 s: refreshed about twice per lifetime (at half-life), so at least 4 rotations.
    expect(summary.refreshes).toBeGreaterThanOrEqual(4);
    expect(summary.distinctKeys).toBe(summary.refreshes);
    expect(text).toContain("0 failed requests");
  });
});
