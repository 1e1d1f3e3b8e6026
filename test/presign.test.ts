import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { beforeAll, describe, expect, it } from "vitest";
import {
  MAX_PRESIGN_EXPIRES_SECONDS,
  RefreshSessionError,
  RefreshableSession,
  presignedUrlExpiry,
} from "../src/index.js";
import type { Emulator } from "../src/testing.js";
import { useEmulatorSessions } from "./helpers/emulatorSession.js";

const BUCKET = "presign";
const fx = useEmulatorSessions({
  role: "arn:aws:iam::123456789012:role/presign",
  bucket: BUCKET,
  objects: { k: "presigned" },
});
let emu: Emulator;
beforeAll(() => {
  emu = fx.emu;
});
const session = fx.session;
const s3Of = (s: RefreshableSession): S3Client => fx.s3(s);
const get = (): GetObjectCommand => new GetObjectCommand({ Bucket: BUCKET, Key: "k" });
const keyIn = (url: string): string =>
  decodeURIComponent(new URL(url).searchParams.get("X-Amz-Credential")!).split("/")[0]!;

describe("session.presign()", () => {
  it("signs a URL that works, with expiresAt read from the URL when the credential outlives it", async () => {
    const s = session();
    const before = Date.now();
    const { url, expiresAt, expiresIn, capped, credentialExpiration } = await s.presign(s3Of(s), get(), {
      expiresIn: 60,
    });
    const after = Date.now();
    expect(capped).toBe(false);
    expect(expiresIn).toBe(60);
    expect(expiresAt.getTime()).toBe(presignedUrlExpiry(url).getTime());
    // 60 s from when it was signed (within 2 s: whole seconds, and the clock-skew estimate), however long that took.
    expect(expiresAt.getTime()).toBeGreaterThan(before + 60_000 - 2_000);
    expect(expiresAt.getTime()).toBeLessThan(after + 60_000 + 2_000);
    expect(credentialExpiration!.getTime()).toBeGreaterThan(expiresAt.getTime());
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("presigned");
  });

  it("caps the lifetime at the credential's expiry; the URL really stops working then", async () => {
    emu.setCredentialLifetime(30);
    const s = session();
    const out = await s.presign(s3Of(s), get(), { expiresIn: 3600 });
    expect(out.capped).toBe(true);
    expect(out.expiresIn).toBeLessThanOrEqual(31); // AWS states expiry in whole seconds: up to 30 s + rounding
    expect(out.expiresAt.getTime()).toBeLessThanOrEqual(out.credentialExpiration!.getTime());
    expect(out.credentialExpiration!.getTime() - out.expiresAt.getTime()).toBeLessThan(1_000);
    expect(new URL(out.url).searchParams.get("X-Amz-Expires")).toBe(String(out.expiresIn));
    expect((await fetch(out.url)).status).toBe(200);
    // AWS's clock moves past the URL's end (its credential's expiry) instead of the test waiting for it.
    emu.setClockOffset(out.expiresAt.getTime() - Date.now() + 150);
    const dead = await fetch(out.url);
    expect(dead.status).toBeGreaterThanOrEqual(400);
    expect(await dead.text()).toMatch(/<Code>(ExpiredToken|AccessDenied)<\/Code>/);
  });

  it("refreshes first when a new credential would last longer, and not when the current one is new", async () => {
    emu.setCredentialLifetime(30);
    let elapsed = 0;
    // Deferred: the engine itself does not refresh in the background here, so any refresh is presign's.
    const s = session({ refresh: { mode: "deferred", clock: { now: () => Date.now() + elapsed } } });
    const s3 = s3Of(s);
    const first = await s.credentials();
    // 11 s pass, for AWS and for the session alike: the credential has well under 90% of its 30 s left. (A new one
    // counts as new for 3 s, however slowly the machine runs the next lines.)
    elapsed = 11_000;
    emu.setClockOffset(elapsed);
    const refreshes = s.metrics().refreshes;
    const out = await s.presign(s3, get(), { expiresIn: 60 });
    expect(s.metrics().refreshes - refreshes).toBe(1);
    const signer = keyIn(out.url);
    expect(signer).not.toBe(first.accessKeyId);
    expect(signer).toBe(s.credentials.peek()!.accessKeyId);
    expect(out.credentialExpiration!.getTime()).toBeGreaterThan(first.expiration!.getTime());
    expect(out.capped).toBe(true);
    const again = await s.presign(s3, get(), { expiresIn: 60 });
    expect(s.metrics().refreshes - refreshes).toBe(1);
    expect(again.capped).toBe(true);
    expect((await fetch(again.url)).status).toBe(200);
  });

  it("strict: throws PRESIGN_LIFETIME naming both times instead of capping", async () => {
    emu.setCredentialLifetime(30);
    const s = session();
    const err = await s.presign(s3Of(s), get(), { expiresIn: 600, strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefreshSessionError);
    const e = err as RefreshSessionError;
    expect(e.code).toBe("PRESIGN_LIFETIME");
    expect(e.source).toBe("sts:arn:aws:iam::123456789012:role/presign");
    const times = e.message.match(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g) ?? [];
    expect(times).toHaveLength(2);
    // The asked end (600 s after signing) comes first, then the 30 s credential's expiry.
    expect(Date.parse(times[0]!) - Date.parse(times[1]!)).toBeGreaterThan(565_000);
    expect(times[1]).toBe(e.expiration!.toISOString());
    const fits = await s.presign(s3Of(s), get(), { expiresIn: 1, strict: true });
    expect(fits.capped).toBe(false);
  });

  it("the 7-day limit: refused beyond 604800 s; long-term keys sign the full week", async () => {
    const s = session();
    await expect(s.presign(s3Of(s), get(), { expiresIn: MAX_PRESIGN_EXPIRES_SECONDS + 1 })).rejects.toThrow(
      /`expiresIn` must be at most 604800/,
    );
    await expect(s.presign(s3Of(s), get(), { expiresIn: 0 })).rejects.toThrow(RangeError);
    await expect(s.presign(s3Of(s), get(), { expiresIn: 1.5 })).rejects.toThrow(/`expiresIn`/);
    const root = fx.track(
      new RefreshableSession({ method: "provider", provider: async () => emu.rootCredentials, region: emu.region }),
    );
    const week = await root.presign(s3Of(root), get(), { expiresIn: MAX_PRESIGN_EXPIRES_SECONDS });
    expect(week).toMatchObject({ capped: false, expiresIn: 604_800, credentialExpiration: undefined });
    expect(new URL(week.url).searchParams.get("X-Amz-Expires")).toBe("604800");
    expect((await fetch(week.url)).status).toBe(200);
    const def = await root.presign(s3Of(root), get());
    expect(def.expiresIn).toBe(900);
  });

  it("signs at AWS's time: with AWS 10 minutes ahead a short URL works, where a plain getSignedUrl is born expired", async () => {
    emu.setClockOffset(10 * 60_000);
    const s = session();
    const s3 = s3Of(s);
    await s.whoami(); // learns the offset from STS's answers
    const plain = await getSignedUrl(s3, get(), { expiresIn: 60 });
    const res = await fetch(plain);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("<Message>Request has expired</Message>");
    const before = emu.now();
    const guarded = await s.presign(s3, get(), { expiresIn: 60 });
    const after = emu.now();
    // 60 s from AWS's now when it was signed (within 2 s: whole seconds, and the clock-skew estimate).
    expect(guarded.expiresAt.getTime()).toBeGreaterThan(before + 60_000 - 2_000);
    expect(guarded.expiresAt.getTime()).toBeLessThan(after + 60_000 + 2_000);
    expect((await fetch(guarded.url)).status).toBe(200);
  });

  it("uses the PUT command too: a presigned upload lands in the bucket", async () => {
    const s = session();
    const { url } = await s.presign(s3Of(s), new PutObjectCommand({ Bucket: BUCKET, Key: "up" }), { expiresIn: 30 });
    const res = await fetch(url, { method: "PUT", body: "uploaded" });
    expect(res.status).toBe(200);
    expect(emu.s3.object(BUCKET, "up")?.toString()).toBe("uploaded");
  });
});

describe("presignedUrlExpiry()", () => {
  it("reads X-Amz-Date + X-Amz-Expires (SigV4) and Expires (SigV2); refuses other URLs", () => {
    expect(
      presignedUrlExpiry(
        "https://b.s3.amazonaws.com/k?X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-Signature=x",
      ),
    ).toEqual(new Date("2026-01-01T00:15:00Z"));
    expect(
      presignedUrlExpiry(new URL("https://b.s3.amazonaws.com/k?AWSAccessKeyId=A&Expires=1767225600&Signature=s")),
    ).toEqual(new Date("2026-01-01T00:00:00Z"));
    expect(() => presignedUrlExpiry("https://example.com/k")).toThrow(/not a presigned URL/);
    expect(() => presignedUrlExpiry("https://b/k?X-Amz-Date=2026&X-Amz-Expires=9")).toThrow(/malformed X-Amz-Date/);
    expect(() => presignedUrlExpiry("not a url")).toThrow(TypeError);
  });
});

describe("emulator: presigned URL answers", () => {
  it("X-Amz-Expires and X-Amz-Date problems, each in S3's words", async () => {
    const s = session();
    const { url } = await s.presign(s3Of(s), get(), { expiresIn: 60 });
    const answer = async (u: string): Promise<[number, string]> => {
      const r = await fetch(u);
      const text = await r.text();
      return [r.status, /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text];
    };
    expect(await answer(url.replace("X-Amz-Expires=60", "X-Amz-Expires=-1"))).toEqual([
      400,
      "X-Amz-Expires must be non-negative",
    ]);
    expect(await answer(url.replace("X-Amz-Expires=60", "X-Amz-Expires=soon"))).toEqual([
      400,
      "X-Amz-Expires should be a number",
    ]);
    expect(await answer(url.replace("X-Amz-Expires=60", "X-Amz-Expires=604801"))).toEqual([
      400,
      "X-Amz-Expires must be less than a week (in seconds) that is 604800",
    ]);
    emu.setClockOffset(-20 * 60_000);
    expect(await answer(url)).toEqual([403, "Request is not yet valid"]);
    emu.setClockOffset(2 * 60_000);
    const expired = await fetch(url);
    const body = await expired.text();
    expect(expired.status).toBe(403);
    expect(body).toMatch(
      /<Expires>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/Expires><ServerTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/ServerTime>/,
    );
    emu.setClockOffset(0);
    emu.revoke(keyIn(url));
    expect(await answer(url)).toEqual([400, "The provided token has expired."]);
  });
});
