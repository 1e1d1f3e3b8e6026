import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll } from "vitest";
import { RefreshableSession } from "../../src/index.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/testing.js";

/** What {@link useEmulatorSessions} gives a test file. */
export interface EmulatorSessions {
  /** The running emulator (set in beforeAll). */
  readonly emu: Emulator;
  /** An `sts` session assuming `role` through the emulator; closed after each test. */
  session(extra?: Record<string, unknown>): RefreshableSession;
  /** A session of any method, closed after each test. */
  track(session: RefreshableSession): RefreshableSession;
  /** An S3 client of `session` pointed at the emulator (path style). */
  s3(session: RefreshableSession, extra?: Record<string, unknown>): S3Client;
}

/**
 * Registers hooks that start an emulator with a bucket (and objects) in it, point AWS_ENDPOINT_URL at it, reset its
 * faults, clock offset and credential lifetime after each test, close sessions made in a test, and restore the
 * environment at the end.
 */
export function useEmulatorSessions(options: {
  role: string;
  bucket: string;
  objects?: Record<string, string>;
  emulator?: EmulatorOptions;
}): EmulatorSessions {
  let emu: Emulator | undefined;
  const saved = process.env.AWS_ENDPOINT_URL;
  const open: RefreshableSession[] = [];
  const lifetime = options.emulator?.credentialLifetimeSeconds ?? 3600;
  beforeAll(async () => {
    emu = await startEmulator(options.emulator);
    process.env.AWS_ENDPOINT_URL = emu.url;
    const s3 = new S3Client({
      region: emu.region,
      endpoint: emu.url,
      forcePathStyle: true,
      credentials: emu.rootCredentials,
    });
    await s3.send(new CreateBucketCommand({ Bucket: options.bucket }));
    for (const [Key, Body] of Object.entries(options.objects ?? {})) {
      await s3.send(new PutObjectCommand({ Bucket: options.bucket, Key, Body }));
    }
    s3.destroy();
  });
  afterEach(() => {
    emu?.clearFaults();
    emu?.setClockOffset(0);
    emu?.setCredentialLifetime(lifetime);
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = saved;
    await emu?.close();
  });
  const fixture: EmulatorSessions = {
    get emu(): Emulator {
      if (!emu) throw new Error("the emulator starts in beforeAll");
      return emu;
    },
    track(session) {
      open.push(session);
      return session;
    },
    session(extra = {}) {
      const e = fixture.emu;
      return fixture.track(
        new RefreshableSession({
          method: "sts",
          assumeRole: { RoleArn: options.role },
          sourceCredentials: async () => e.rootCredentials,
          stsClientConfig: { endpoint: e.url },
          region: e.region,
          ...extra,
        } as never),
      );
    },
    s3(session, extra = {}) {
      return session.client(S3Client, { endpoint: fixture.emu.url, forcePathStyle: true, ...extra });
    },
  };
  return fixture;
}
