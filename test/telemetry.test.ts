import type { Attributes } from "@opentelemetry/api";
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type HistogramMetricData,
  type MetricData,
} from "@opentelemetry/sdk-metrics";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { refreshable } from "../src/refresh/refreshable.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { startCredentialServer } from "../src/server/credentialServer.js";
import { fromAssumeRole } from "../src/sources/sts.js";
import {
  instrumentCredentialServer,
  instrumentRefreshable,
  instrumentSession,
  METRIC_CREDENTIAL_REFRESHES,
  METRIC_CREDENTIAL_REFRESH_CONSECUTIVE_FAILURES,
  METRIC_CREDENTIAL_REFRESH_DURATION,
  METRIC_CREDENTIAL_REFRESH_FAILURES,
  METRIC_CREDENTIAL_TIME_TO_EXPIRY,
  METRIC_CREDENTIAL_WAITS,
  METRIC_SERVER_REQUESTS,
  METRIC_SESSION_CLOCK_SKEW,
  METRIC_SESSION_RECOVERIES,
} from "../src/telemetry/index.js";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, ROOT_PROFILE } from "./helpers/cli.js";

/** A reader that keeps nothing and exports nothing: each `collect()` is what an exporter would get. */
class InMemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await this.collect();
    expect(errors).toEqual([]);
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }
}

/** The metric `name`: once in the export, or (with `optional`, when it has no data point at all) not at all. */
function metric(all: MetricData[], name: string, optional = false): MetricData | undefined {
  const found = all.filter((m) => m.descriptor.name === name);
  if (optional && found.length === 0) return undefined;
  expect(found, `${name} once in the export`).toHaveLength(1);
  return found[0] as MetricData;
}

/** The value of `name` for the data point whose attributes include `attrs`; undefined when there is none. */
function value(all: MetricData[], name: string, attrs: Attributes): number | undefined {
  const points = ((metric(all, name, true)?.dataPoints ?? []) as { attributes: Attributes; value: unknown }[]).filter(
    (p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
  );
  expect(points.length, `${name} ${JSON.stringify(attrs)} at most one point`).toBeLessThanOrEqual(1);
  return points[0]?.value as number | undefined;
}

function histogram(all: MetricData[], name: string, attrs: Attributes): { count: number; sum: number } | undefined {
  const m = metric(all, name) as HistogramMetricData;
  expect(m.dataPointType).toBe(DataPointType.HISTOGRAM);
  const p = m.dataPoints.find((d) => Object.entries(attrs).every(([k, v]) => d.attributes[k] === v));
  return p ? { count: p.value.count, sum: p.value.sum ?? 0 } : undefined;
}

let emu: Emulator;
let provider: MeterProvider;
let reader: InMemoryReader;
const open: { close(): unknown }[] = [];
const ROLE = "arn:aws:iam::123456789012:role/telemetry";

beforeAll(async () => {
  emu = await startEmulator({ credentialLifetimeSeconds: 3600 });
});
afterAll(async () => {
  await emu.close();
});
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  emu.clearFaults();
  emu.setClockOffset(0);
  await provider?.shutdown();
});

function meter(): ReturnType<MeterProvider["getMeter"]> {
  reader = new InMemoryReader();
  provider = new MeterProvider({ readers: [reader] });
  return provider.getMeter("telemetry-test");
}

/** An STS session on the emulator. A failed refresh is retried a minute later: never during a test. */
function stsSession(name: string, maxAttempts = 1): RefreshableSession {
  const session = new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: ROLE, RoleSessionName: name },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig: { endpoint: emu.url, maxAttempts },
    region: emu.region,
    refresh: { name, retryBaseMs: 60_000, maxRetryMs: 60_000 },
  });
  open.push(session);
  return session;
}

describe("telemetry: sessions", () => {
  it("counts what the emulator saw: refreshes = AssumeRole calls, failures, waits, durations; expiry as the credential's", async () => {
    const m = meter();
    const session = stsSession("sess");
    const telemetry = instrumentSession(session, { meter: m, attributes: { "deployment.environment.name": "test" } });
    open.push(telemetry);
    const attrs = { "aws_refresh.source.name": "sess", "aws_refresh.session.method": "sts" };

    // Before the first fetch: counters at 0, no expiry to count down to.
    let all = await reader.metrics();
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, attrs)).toBe(0);
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, attrs)).toBeUndefined();

    const before = emu.calls("sts:AssumeRole");
    await Promise.all([session.getCredentials(), session.getCredentials(), session.getCredentials()]);
    await session.refresh();
    const last = await session.refresh();
    emu.fault("sts:AssumeRole", { error: { code: "AccessDenied", status: 403 }, times: 1 });
    await expect(session.refresh()).rejects.toThrow();
    const calls = emu.calls("sts:AssumeRole") - before;

    all = await reader.metrics();
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, attrs)).toBe(3);
    expect(value(all, METRIC_CREDENTIAL_REFRESH_FAILURES, attrs)).toBe(1);
    // Every AssumeRole call the emulator answered is counted once, as a refresh or as a failure.
    expect(
      value(all, METRIC_CREDENTIAL_REFRESHES, attrs)! + value(all, METRIC_CREDENTIAL_REFRESH_FAILURES, attrs)!,
    ).toBe(calls);
    expect(value(all, METRIC_CREDENTIAL_REFRESH_CONSECUTIVE_FAILURES, attrs)).toBe(1);
    expect(value(all, METRIC_CREDENTIAL_WAITS, attrs)).toBe(3); // the three first callers waited for one fetch
    expect(value(all, METRIC_SESSION_RECOVERIES, attrs)).toBe(0);
    const expiresIn = (last.expiration!.getTime() - Date.now()) / 1000;
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, attrs)).toBeCloseTo(expiresIn, -1); // within 5 s
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, attrs)).toBeGreaterThan(3500);
    const d = histogram(all, METRIC_CREDENTIAL_REFRESH_DURATION, attrs);
    expect(d?.count).toBe(3);
    expect(d?.sum).toBeGreaterThan(0);
    expect(d?.sum).toBeLessThan(30);
    // The user's attributes are on every point; the descriptors carry the units.
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, { "deployment.environment.name": "test" })).toBe(3);
    expect(metric(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY)?.descriptor.unit).toBe("s");
    expect(metric(all, METRIC_CREDENTIAL_REFRESHES)?.descriptor.unit).toBe("{refresh}");

    // A success resets the streak, and close() stops recording.
    await session.refresh();
    all = await reader.metrics();
    expect(value(all, METRIC_CREDENTIAL_REFRESH_CONSECUTIVE_FAILURES, attrs)).toBe(0);
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, attrs)).toBe(4);
    telemetry.close();
    telemetry.close();
    await session.refresh();
    all = await reader.metrics();
    // Nothing after close(): the SDK may repeat a series' last value, but it no longer moves.
    expect(session.metrics().refreshes).toBe(5);
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, attrs) ?? 4).toBe(4);
    expect(histogram(all, METRIC_CREDENTIAL_REFRESH_DURATION, attrs)?.count).toBe(4);
  });

  it("measures time to expiry in AWS's time when the local clock is 10 minutes behind", async () => {
    emu.setClockOffset(10 * 60_000);
    const session = stsSession("skewed", 3); // the SDK's retry corrects its signing clock after the first refusal
    open.push(instrumentSession(session, { meter: meter() }));
    const c = await session.getCredentials();
    await session.refresh(); // a second response: the session's offset settles
    const all = await reader.metrics();
    const attrs = { "aws_refresh.source.name": "skewed" };
    expect(value(all, METRIC_SESSION_CLOCK_SKEW, attrs)).toBeCloseTo(600, -1);
    // The credential says it expires at AWS's now + 1 h: 70 minutes away by the local clock, 60 in truth.
    expect((c.expiration!.getTime() - Date.now()) / 1000).toBeGreaterThan(4000);
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, attrs)).toBeCloseTo(3600, -1);
  });
});

describe("telemetry: a session of a profile", () => {
  it("names the series after the profile, and counts its role's AssumeRole calls", async () => {
    const { env } = awsConfigDir(
      ROOT_PROFILE + "[profile ml]\nrole_arn = arn:aws:iam::123456789012:role/ml\nsource_profile = root\n",
    );
    const session = new RefreshableSession({
      method: "profile",
      profile: "ml",
      configFile: env.AWS_CONFIG_FILE,
      credentialsFile: env.AWS_SHARED_CREDENTIALS_FILE,
      stsClientConfig: { endpoint: emu.url },
      region: emu.region,
    });
    open.push(session);
    open.push(instrumentSession(session, { meter: meter() }));
    const before = emu.calls("sts:AssumeRole");
    await session.getCredentials();
    await session.refresh();
    const all = await reader.metrics();
    const attrs = { "aws_refresh.profile.name": "ml", "aws_refresh.session.method": "profile" };
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, attrs)).toBe(2);
    expect(emu.calls("sts:AssumeRole") - before).toBe(2);
  });
});

describe("telemetry: engines", () => {
  it("records a refreshable() engine through metrics() and its refresh event", async () => {
    const engine = refreshable(
      fromAssumeRole({
        assumeRole: { RoleArn: ROLE, RoleSessionName: "engine" },
        sourceCredentials: async () => emu.rootCredentials,
        stsClientConfig: { endpoint: emu.url, region: emu.region, maxAttempts: 1 },
      }),
      { name: "engine" },
    );
    open.push(engine);
    open.push(instrumentRefreshable(engine, { meter: meter() }));
    const before = emu.calls("sts:AssumeRole");
    await Promise.all(Array.from({ length: 5 }, () => engine()));
    await engine.refresh();
    const all = await reader.metrics();
    const attrs = { "aws_refresh.source.name": "engine" };
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, attrs)).toBe(emu.calls("sts:AssumeRole") - before);
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, attrs)).toBe(2);
    expect(value(all, METRIC_CREDENTIAL_WAITS, attrs)).toBe(5);
    expect(value(all, METRIC_CREDENTIAL_REFRESH_FAILURES, attrs)).toBe(0);
    expect(histogram(all, METRIC_CREDENTIAL_REFRESH_DURATION, attrs)?.count).toBe(2);
    const expiresIn = (engine.metrics().expiration!.getTime() - Date.now()) / 1000;
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, attrs)).toBeCloseTo(expiresIn, -1);
  });

  it("two engines on one meter share each instrument, one series each; bad arguments are TypeErrors", async () => {
    const m = meter();
    const a = refreshable(
      async () => ({ accessKeyId: "AKIAA", secretAccessKey: "s", expiration: new Date(Date.now() + 60e3) }),
      {
        name: "a",
      },
    );
    const b = refreshable(async () => ({ accessKeyId: "AKIAB", secretAccessKey: "s" }), { name: "b" });
    open.push(a, b, instrumentRefreshable(a, { meter: m }), instrumentRefreshable(b, { meter: m }));
    await a();
    await b();
    const all = await reader.metrics();
    expect(metric(all, METRIC_CREDENTIAL_REFRESHES)?.dataPoints).toHaveLength(2);
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, { "aws_refresh.source.name": "a" })).toBeGreaterThan(50);
    // Long-term keys never expire: no time to expiry for them.
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, { "aws_refresh.source.name": "b" })).toBeUndefined();
    expect(() => instrumentRefreshable({} as never, { meter: m })).toThrow(TypeError);
    expect(() => instrumentSession(null as never)).toThrow(TypeError);
    expect(() => instrumentRefreshable(a, { meter: {} as never })).toThrow(/`meter`/);
  });
});

describe("telemetry: the credential server", () => {
  it("records each profile's engine and the answers by status code", async () => {
    const session = stsSession("served");
    const server = await startCredentialServer({
      profiles: {
        etl: session,
        raw: async () => ({ accessKeyId: "AKIARAW", secretAccessKey: "s", expiration: new Date(Date.now() + 7200e3) }),
      },
    });
    open.push(server);
    open.push(instrumentCredentialServer(server, { meter: meter() }));
    const before = emu.calls("sts:AssumeRole");
    const get = (path: string, auth = true) =>
      fetch(`${server.url}${path}`, { headers: auth ? { authorization: server.token } : {} });
    for (const path of ["/profiles/etl", "/profiles/etl", "/profiles/raw"]) expect((await get(path)).status).toBe(200);
    expect((await get("/profiles/etl", false)).status).toBe(401);
    const all = await reader.metrics();
    const etl = { "aws_refresh.profile.name": "etl", "aws_refresh.source.name": "served" };
    const raw = { "aws_refresh.profile.name": "raw" };
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, etl)).toBe(emu.calls("sts:AssumeRole") - before);
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, etl)).toBe(1);
    expect(value(all, METRIC_CREDENTIAL_REFRESHES, raw)).toBe(1);
    expect(value(all, METRIC_CREDENTIAL_TIME_TO_EXPIRY, raw)).toBeCloseTo(7200, -1);
    expect(value(all, METRIC_SERVER_REQUESTS, { "http.response.status_code": 200 })).toBe(3);
    expect(value(all, METRIC_SERVER_REQUESTS, { "http.response.status_code": 401 })).toBe(1);
  });
});
