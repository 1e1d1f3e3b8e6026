import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { beforeAll, describe, expect, it } from "vitest";
import { ClockSkew, type ClockSkewEvent } from "../src/index.js";
import type { Emulator } from "../src/testing.js";
import { useEmulatorSessions } from "./helpers/emulatorSession.js";

/** A server clock `offset` ms ahead of ours answers a request sent at `sentAt` after `rtt` ms: its Date header. */
function dateHeader(offset: number, sentAt: number, rtt: number, serverReadsAt = 0.5): string {
  const serverNow = sentAt + rtt * serverReadsAt + offset;
  return new Date(Math.floor(serverNow / 1000) * 1000).toUTCString();
}

function feed(skew: ClockSkew, offset: number, sentAt: number, rtt: number, serverReadsAt = 0.5): void {
  skew.observeResponse({ headers: { date: dateHeader(offset, sentAt, rtt, serverReadsAt) } }, sentAt, sentAt + rtt);
}

describe("ClockSkew: one estimate from many responses", () => {
  const T0 = Date.UTC(2026, 0, 1);

  it("narrows to well under a second from whole-second Date headers, ahead or behind", () => {
    for (const truth of [600_321, -600_321, 1_234, 0]) {
      const skew = new ClockSkew();
      expect(skew.offsetMs).toBe(0);
      feed(skew, truth, T0, 40);
      expect(Math.abs(skew.offsetMs - truth)).toBeLessThanOrEqual(600);
      // Requests leave at times spread across the second, as a real workload's do.
      for (let i = 1; i <= 25; i++) feed(skew, truth, T0 + i * 1_137 + ((i * 389) % 1000), 20 + (i % 7) * 5);
      expect(Math.abs(skew.offsetMs - truth)).toBeLessThan(100);
      expect(skew.samples).toBe(26);
      expect(skew.clock.now() - Date.now() - skew.offsetMs).toBeLessThanOrEqual(1);
    }
  });

  it("follows a clock that jumps, and ignores answers to requests sent before the jump", () => {
    const skew = new ClockSkew();
    for (let i = 0; i < 10; i++) feed(skew, 5_000, T0 + i * 1_313, 30);
    expect(Math.abs(skew.offsetMs - 5_000)).toBeLessThan(200);
    feed(skew, -120_000, T0 + 20_000, 30); // NTP stepped our clock, or the server's
    expect(Math.abs(skew.offsetMs + 120_000)).toBeLessThanOrEqual(600);
    feed(skew, 5_000, T0 + 19_000, 3_000); // a slow answer from before the jump
    expect(Math.abs(skew.offsetMs + 120_000)).toBeLessThanOrEqual(600);
  });

  it("ignores answers without a Date, served from a cache (Age), or that took longer than 15 minutes", () => {
    const skew = new ClockSkew();
    skew.observeResponse({ headers: {} }, T0, T0 + 10);
    skew.observeResponse({ headers: { date: dateHeader(90_000, T0, 10), age: "30" } }, T0, T0 + 10);
    skew.observeResponse({ headers: { date: dateHeader(90_000, T0, 16 * 60_000) } }, T0, T0 + 16 * 60_000);
    skew.observeResponse(undefined, T0, T0 + 10);
    expect(skew.samples).toBe(0);
    expect(skew.offsetMs).toBe(0);
  });

  it("fires an event when the offset passes the threshold, moves by more than it, and comes back", () => {
    const seen: ClockSkewEvent[] = [];
    const skew = new ClockSkew({ thresholdMs: 60_000, onEvent: (e) => seen.push(e) });
    feed(skew, 30_000, T0, 10);
    expect(seen).toEqual([]);
    feed(skew, 600_000, T0 + 10_000, 10);
    feed(skew, 600_000, T0 + 11_500, 10); // small refinement: no new event
    feed(skew, 700_000, T0 + 20_000, 10);
    feed(skew, 0, T0 + 30_000, 10);
    expect(seen.map((e) => [e.exceeded, Math.round(e.offsetMs / 1000), Math.round(e.previousOffsetMs / 1000)])).toEqual(
      [
        [true, 600, 0],
        [true, 700, 600],
        [false, 0, 700],
      ],
    );
    expect(seen[0]!.thresholdMs).toBe(60_000);
  });

  it("a listener that throws is logged, not thrown; bad options are refused naming the option", () => {
    const errors: string[] = [];
    const skew = new ClockSkew({
      thresholdMs: 1_000,
      onEvent: () => {
        throw new Error("listener bug");
      },
      logger: { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) },
    });
    feed(skew, 50_000, T0, 10);
    expect(errors.join()).toContain("listener bug");
    expect(() => new ClockSkew({ thresholdMs: 0 })).toThrow(/`clockSkew.thresholdMs`/);
    expect(() => new ClockSkew({ onEvent: "x" as never })).toThrow(/`clockSkew.onEvent`/);
  });
});

describe("session: skew of +/- 10 minutes on the emulator", () => {
  const fx = useEmulatorSessions({
    role: "arn:aws:iam::123456789012:role/skew",
    bucket: "skew",
    emulator: { credentialLifetimeSeconds: 2 },
  });
  let emu: Emulator;
  beforeAll(() => {
    emu = fx.emu;
  });
  const session = fx.session;

  it.each([10 * 60_000, -10 * 60_000])(
    "offset %i ms: no failed request over several rotations, right clockSkewMs",
    async (offset) => {
      emu.setClockOffset(offset);
      const s = session();
      const events: ClockSkewEvent[] = [];
      s.on("clock-skew", (e) => events.push(e));
      const s3 = s.client(S3Client, { endpoint: emu.url, forcePathStyle: true });
      let failures = 0;
      let requests = 0;
      // Until 3 rotations and 40 requests, however long a busy machine takes (within a deadline).
      const deadline = Date.now() + 30_000;
      const done = (): boolean => (s.metrics().refreshes >= 3 && requests > 40) || Date.now() > deadline;
      await Promise.all(
        Array.from({ length: 4 }, async (_, worker) => {
          for (let i = 0; !done(); i++) {
            const Key = `w${worker}/${i % 5}`;
            try {
              await s3.send(new PutObjectCommand({ Bucket: "skew", Key, Body: `${worker}:${i}` }));
              const got = await s3.send(new GetObjectCommand({ Bucket: "skew", Key }));
              if ((await got.Body!.transformToString()) !== `${worker}:${i}`) failures++;
            } catch {
              failures++;
            }
            requests += 2;
          }
        }),
      );
      const m = s.metrics();
      expect(failures).toBe(0);
      expect(requests).toBeGreaterThan(40);
      expect(Math.abs(m.clockSkewMs - offset)).toBeLessThan(1_500);
      // 2 s credentials: rotated in the background, in AWS's time, before they died.
      expect(m.refreshes).toBeGreaterThanOrEqual(3);
      expect(m.recoveries).toBe(0);
      expect(events).toEqual([expect.objectContaining({ exceeded: true, thresholdMs: 60_000 })]);
      expect(Math.abs(events[0]!.offsetMs - offset)).toBeLessThan(1_500);
      // Clients made from now on start from the session's offset.
      expect(
        Math.abs(((s.clientConfig() as { systemClockOffset?: number }).systemClockOffset as number) - offset),
      ).toBeLessThan(1_500);
      const later = s.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 1 });
      expect(Math.abs(later.config.systemClockOffset - offset)).toBeLessThan(1_500);
    },
  );

  it("AWS's clock jumping 20 minutes mid-run: the SDK corrects and retries, the session follows and tells", async () => {
    emu.setCredentialLifetime(3600);
    const s = session();
    const events: ClockSkewEvent[] = [];
    s.on("clock-skew", (e) => events.push(e));
    const s3 = s.client(S3Client, { endpoint: emu.url, forcePathStyle: true });
    await s3.send(new PutObjectCommand({ Bucket: "skew", Key: "jump", Body: "before" }));
    expect(Math.abs(s.metrics().clockSkewMs)).toBeLessThan(1_500);
    emu.setClockOffset(20 * 60_000);
    const out = await s3.send(new GetObjectCommand({ Bucket: "skew", Key: "jump" }));
    expect(await out.Body!.transformToString()).toBe("before");
    expect(out.$metadata.attempts).toBe(2); // RequestTimeTooSkewed, then the SDK's own corrected retry
    expect(s.metrics().recoveries).toBe(0);
    expect(Math.abs(s.metrics().clockSkewMs - 20 * 60_000)).toBeLessThan(1_500);
    expect(events).toEqual([expect.objectContaining({ exceeded: true })]);
    // Another client of the session signs right the first time: the offset is shared.
    const sts = await s.whoami();
    expect(sts.Account).toBe(emu.accountId);
    const other = s.client(S3Client, { endpoint: emu.url, forcePathStyle: true, maxAttempts: 1 });
    expect((await other.send(new GetObjectCommand({ Bucket: "skew", Key: "jump" }))).$metadata.attempts).toBe(1);
  });

  it("without the correction, a clock 10 minutes ahead sees AWS's fresh credentials as already expired", async () => {
    emu.setClockOffset(-10 * 60_000);
    const naive = session({ clockSkew: false });
    await expect(naive.whoami()).rejects.toMatchObject({ name: "RefreshSessionError" });
    await expect(naive.credentials()).rejects.toThrow(/already expired/);
    expect(naive.metrics().clockSkewMs).toBe(0);
    const corrected = session();
    expect((await corrected.whoami()).Account).toBe(emu.accountId);
    expect(Math.abs(corrected.metrics().clockSkewMs + 10 * 60_000)).toBeLessThan(1_500);
  });

  it("emulator: X-Amz-Date too old or too far ahead, answered per service as AWS does", async () => {
    const creds = await session().credentials();
    const raw = { region: emu.region, endpoint: emu.url, credentials: creds, maxAttempts: 1 };
    for (const [offset, sts] of [
      [20 * 60_000, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/],
      [
        -20 * 60_000,
        /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)$/,
      ],
    ] as const) {
      emu.setClockOffset(offset);
      await expect(new STSClient(raw).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
        name: "SignatureDoesNotMatch",
        message: expect.stringMatching(sts),
        $metadata: { httpStatusCode: 403 },
      });
      const err = await new S3Client({ ...raw, forcePathStyle: true })
        .send(new GetObjectCommand({ Bucket: "skew", Key: "none" }))
        .then(
          () => ({}) as Record<string, unknown>,
          (e: Record<string, unknown>) => e,
        );
      expect(err).toMatchObject({ name: "RequestTimeTooSkewed", $metadata: { httpStatusCode: 403 } });
      expect(err.ServerTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(err.MaxAllowedSkewMilliseconds).toBe("900000");
      expect(Math.abs(Date.parse(err.ServerTime as string) - emu.now())).toBeLessThan(2_000);
    }
  });

  it("refuses a bad clockSkew option", () => {
    expect(() => session({ clockSkew: "on" })).toThrow(/`clockSkew`/);
    expect(() => session({ clockSkew: { thresholdMs: -1 } })).toThrow(/`clockSkew.thresholdMs`/);
  });
});
