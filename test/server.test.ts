import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { inspect } from "node:util";
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromHttp } from "@aws-sdk/credential-providers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import {
  DEFAULT_SERVER_ADVISORY_MS,
  DEFAULT_SERVER_MANDATORY_MS,
  startCredentialServer,
  type CredentialServer,
} from "../src/server/credentialServer.js";
import { childEnvironment, EXEC_MARKER_ENV, SHADOWING_ENV_VARS } from "../src/server/childEnvironment.js";
import { isLoopbackAddress, isLoopbackHost } from "../src/server/loopback.js";
import { generateToken, tokenMatches } from "../src/server/token.js";
import { startEmulator, type Emulator } from "../src/testing.js";
import { refreshable } from "../src/refresh/refreshable.js";

/** Waits for `cond`, checking every 20 ms, failing after `ms`. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let emu: Emulator;
const ROLE = "arn:aws:iam::123456789012:role/served";

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

function roleSession(name = "served"): RefreshableSession {
  return new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: ROLE, RoleSessionName: name },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig: { endpoint: emu.url },
    region: "us-east-1",
    refresh: { advisoryMs: DEFAULT_SERVER_ADVISORY_MS, mandatoryMs: DEFAULT_SERVER_MANDATORY_MS },
  });
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A request with full control over method and headers (Host included), as a browser or attacker could send. */
function send(
  server: CredentialServer,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: options.method ?? "GET",
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Writes a raw request (so headers Node's client refuses can be sent) and returns the status line's code. */
function raw(server: CredentialServer, text: string): Promise<{ status: number; response: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(server.port, "127.0.0.1", () => sock.write(text));
    let data = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => (data += d));
    sock.on("end", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), response: data }));
    sock.on("error", reject);
    // The server closes these connections itself once it has answered; this only ends one it would keep open.
    setTimeout(() => sock.end(), 10_000).unref();
  });
}

describe("credential server", () => {
  it("answers the ECS/EKS JSON from the engine, and many callers make one STS call", async () => {
    const session = roleSession();
    const server = await startCredentialServer({ profiles: { ml: session } });
    try {
      const before = emu.calls("sts:AssumeRole");
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => send(server, "/profiles/ml", { headers: { authorization: server.token } })),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      const body = JSON.parse(answers[0]!.body);
      expect(Object.keys(body).sort()).toEqual(["AccessKeyId", "AccountId", "Expiration", "SecretAccessKey", "Token"]);
      expect(body.AccessKeyId).toMatch(/^ASIA/);
      expect(body.AccountId).toBe("123456789012");
      expect(body.Expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(new Set(answers.map((a) => JSON.parse(a.body).AccessKeyId)).size).toBe(1);
      expect(emu.calls("sts:AssumeRole") - before).toBe(1);
      expect(answers[0]!.headers["cache-control"]).toBe("no-store");
      expect(server.stats().served.ml).toBe(50);

      // The SDK's own container provider takes it and signs requests the emulator accepts.
      const sts = new STSClient({
        region: "us-east-1",
        endpoint: emu.url,
        credentials: fromHttp({
          awsContainerCredentialsFullUri: server.urlFor("ml"),
          awsContainerAuthorizationToken: server.token,
        }),
      });
      expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toContain("assumed-role/served/served");
      sts.destroy();
    } finally {
      await server.close();
      session.close();
    }
  });

  it("gives none of the bad requests a credential, each with the right 4xx", async () => {
    const session = roleSession();
    const server = await startCredentialServer({ profiles: { ml: session } });
    try {
      const good = await send(server, "/profiles/ml", { headers: { authorization: server.token } });
      expect(good.status).toBe(200);
      const { AccessKeyId, SecretAccessKey } = JSON.parse(good.body);
      const auth = { authorization: server.token };
      const cases: [string, () => Promise<Answer | { status: number; response: string }>, number][] = [
        ["no token", () => send(server, "/profiles/ml"), 401],
        ["wrong token", () => send(server, "/profiles/ml", { headers: { authorization: generateToken() } }), 403],
        [
          "token plus a suffix",
          () => send(server, "/profiles/ml", { headers: { authorization: `${server.token}x` } }),
          403,
        ],
        ["DNS rebinding Host", () => send(server, "/profiles/ml", { headers: { ...auth, host: "evil.example" } }), 403],
        [
          "rebinding Host with our port",
          () => send(server, "/profiles/ml", { headers: { ...auth, host: `attacker.test:${server.port}` } }),
          403,
        ],
        ["POST", () => send(server, "/profiles/ml", { method: "POST", headers: auth }), 405],
        ["PUT with a body", () => send(server, "/profiles/ml", { method: "PUT", headers: auth, body: "x" }), 405],
        [
          "GET with a body",
          () => send(server, "/profiles/ml", { headers: { ...auth, "content-length": "10" }, body: "x".repeat(10) }),
          413,
        ],
        ["unknown path", () => send(server, "/latest/meta-data/", { headers: auth }), 404],
        ["unknown profile", () => send(server, "/profiles/other", { headers: auth }), 404],
        ["path traversal", () => send(server, "/profiles/ml/../ml/x", { headers: auth }), 404],
        ["long URL", () => send(server, `/profiles/ml?${"a".repeat(3000)}`, { headers: auth }), 414],
        [
          "huge headers",
          () => send(server, "/profiles/ml", { headers: { ...auth, "x-big": "b".repeat(20_000) } }),
          431,
        ],
        [
          "token with CR LF (raw)",
          () =>
            raw(
              server,
              `GET /profiles/ml HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${server.token}\rX-Injected: 1\r\nConnection: close\r\n\r\n`,
            ),
          400,
        ],
        [
          "no Host (raw HTTP/1.0)",
          () => raw(server, `GET /profiles/ml HTTP/1.0\r\nAuthorization: ${server.token}\r\n\r\n`),
          403,
        ],
      ];
      for (const [what, attempt, status] of cases) {
        const a = await attempt();
        const text = "body" in a ? a.body : a.response;
        expect({ what, status: a.status }).toEqual({ what, status });
        expect(text).not.toContain(AccessKeyId);
        expect(text).not.toContain(SecretAccessKey);
        expect(text).not.toContain(server.token);
      }
      expect(server.stats().served.ml).toBe(1);
      // The token stays out of inspection and JSON.
      expect(inspect(server)).not.toContain(server.token);
      expect(Object.keys(server)).not.toContain("token");
    } finally {
      await server.close();
      session.close();
    }
  });

  it("accepts only loopback addresses to listen on", async () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "localhost.evil.example"]) {
      await expect(startCredentialServer({ profiles: { a: roleSession() }, host })).rejects.toThrow(/`host`/);
    }
    await expect(startCredentialServer({ profiles: {} })).rejects.toThrow(TypeError);
    await expect(startCredentialServer({ profiles: { "a/b": roleSession() } })).rejects.toThrow(/`profiles`/);
    await expect(startCredentialServer({ profiles: { a: roleSession() }, token: "short" })).rejects.toThrow(/`token`/);
    const server = await startCredentialServer({ profiles: { a: roleSession() }, host: "127.0.0.2" });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    await server.close();
  });

  it("serves long-term keys with an empty Token and a stated Expiration, which SDKs accept", async () => {
    const server = await startCredentialServer({ profiles: { root: async () => emu.rootCredentials } });
    try {
      const a = await send(server, "/profiles/root", { headers: { authorization: server.token } });
      const body = JSON.parse(a.body);
      expect(body.Token).toBe("");
      const left = Date.parse(body.Expiration) - Date.now();
      expect(left).toBeGreaterThan(55 * 60_000);
      expect(left).toBeLessThanOrEqual(60 * 60_000);
      const s3 = new S3Client({
        region: "us-east-1",
        endpoint: emu.url,
        forcePathStyle: true,
        credentials: fromHttp({
          awsContainerCredentialsFullUri: server.urlFor("root"),
          awsContainerAuthorizationToken: server.token,
        }),
      });
      await expect(s3.send(new ListBucketsCommand({}))).resolves.toBeDefined();
      s3.destroy();
    } finally {
      await server.close();
    }
  });

  it("answers 503 with the reason when the source fails, and /healthz turns unhealthy", async () => {
    let calls = 0;
    const server = await startCredentialServer({
      profiles: {
        broken: async () => {
          calls++;
          throw new Error("the vault is sealed");
        },
      },
    });
    try {
      const health0 = await send(server, "/healthz");
      expect(health0.status).toBe(200); // never asked yet: not unhealthy
      const a = await send(server, "/profiles/broken", { headers: { authorization: server.token } });
      expect(a.status).toBe(503);
      expect(JSON.parse(a.body)).toMatchObject({ Code: "CredentialsUnavailable" });
      expect(JSON.parse(a.body).Message).toContain("the vault is sealed");
      expect(calls).toBe(1);
      const health = await send(server, "/healthz");
      expect(health.status).toBe(503);
      expect(JSON.parse(health.body)).toEqual({ status: "unhealthy" });
      const detailed = await send(server, "/healthz", { headers: { authorization: server.token } });
      expect(JSON.parse(detailed.body).profiles.broken).toMatchObject({ valid: false, refreshFailures: 1 });
    } finally {
      await server.close();
    }
  });

  it("a source that stops answering: /healthz and /metrics report the timeouts, then 503 CREDENTIALS_EXPIRED", async () => {
    let calls = 0;
    const source = Object.assign(
      (): Promise<{ accessKeyId: string; secretAccessKey: string; expiration: Date }> => {
        calls++;
        if (calls > 1) return new Promise(() => {}); // accepts the call, never answers
        return Promise.resolve({
          accessKeyId: "ASIAHUNGTEST0001",
          secretAccessKey: "s",
          expiration: new Date(Date.now() + 2_000),
        });
      },
      { sourceName: "vault:hung" },
    );
    const engine = refreshable(source, { sourceTimeoutMs: 300 });
    const server = await startCredentialServer({ profiles: { hung: engine } });
    const auth = { headers: { authorization: server.token } };
    try {
      expect((await send(server, "/profiles/hung", auth)).status).toBe(200);
      // The background refresh hangs, hits its deadline and is retried; the valid credential is still served.
      await until(() => engine.metrics().timeouts >= 1, 5_000);
      expect((await send(server, "/profiles/hung", auth)).status).toBe(200);
      const detail = JSON.parse((await send(server, "/healthz", auth)).body).profiles.hung;
      expect(detail.refreshFailures).toBeGreaterThanOrEqual(1);
      expect(detail.timeouts).toBeGreaterThanOrEqual(1);
      expect(detail.lastError).toContain('"vault:hung" did not answer within 300 ms');
      const m = (await send(server, "/metrics", auth)).body;
      const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m)?.[1]);
      expect(value('aws_refresh_refresh_failures_total\\{profile="hung"\\}')).toBeGreaterThanOrEqual(1);
      expect(value('aws_refresh_source_timeouts_total\\{profile="hung"\\}')).toBeGreaterThanOrEqual(1);
      // Once the credential has expired: a typed error naming the source, and /healthz unhealthy.
      await until(() => engine.peek() === undefined, 5_000);
      const gone = await send(server, "/profiles/hung", auth);
      expect(gone.status).toBe(503);
      expect(JSON.parse(gone.body).Message).toMatch(/No valid AWS credentials from "vault:hung".*did not answer/);
      expect((await send(server, "/healthz")).status).toBe(503);
    } finally {
      await server.close();
      engine.close();
    }
  });

  it("exposes Prometheus metrics per profile, to the token (raw or Bearer) only", async () => {
    const a = roleSession("m-a");
    const b = roleSession("m-b");
    const server = await startCredentialServer({ profiles: { a, b } });
    try {
      await send(server, "/profiles/a", { headers: { authorization: server.token } });
      await send(server, "/profiles/a", { headers: { authorization: server.token } });
      expect((await send(server, "/metrics")).status).toBe(401);
      const m = await send(server, "/metrics", { headers: { authorization: `Bearer ${server.token}` } });
      expect(m.status).toBe(200);
      expect(m.headers["content-type"]).toMatch(/^text\/plain/);
      const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m.body)?.[1]);
      expect(value('aws_refresh_credential_expiry_seconds\\{profile="a"\\}')).toBeGreaterThan(3500);
      expect(m.body).not.toMatch(/aws_refresh_credential_expiry_seconds\{profile="b"\}/); // b never fetched
      expect(value('aws_refresh_credential_valid\\{profile="a"\\}')).toBe(1);
      expect(value('aws_refresh_credential_valid\\{profile="b"\\}')).toBe(0);
      expect(value('aws_refresh_refreshes_total\\{profile="a"\\}')).toBe(1);
      expect(value('aws_refresh_refreshes_total\\{profile="b"\\}')).toBe(0);
      expect(value('aws_refresh_refresh_failures_total\\{profile="a"\\}')).toBe(0);
      expect(value('aws_refresh_server_requests_total\\{profile="a",status="200"\\}')).toBe(2);
      expect(m.body).not.toContain(server.token);
    } finally {
      await server.close();
      a.close();
      b.close();
    }
  });

  it("serves a credential that stays ahead of expiry: repeated asking near expiry never calls STS again", async () => {
    // 4-second credentials: the engine's windows clamp to 2 s / 1 s, so it refreshes 2 to 1.5 s before expiry.
    const short = await startEmulator({ credentialLifetimeSeconds: 4 });
    const session = new RefreshableSession({
      method: "sts",
      assumeRole: { RoleArn: ROLE, RoleSessionName: "near-expiry" },
      sourceCredentials: async () => short.rootCredentials,
      stsClientConfig: { endpoint: short.url },
      region: "us-east-1",
      refresh: { advisoryMs: DEFAULT_SERVER_ADVISORY_MS, mandatoryMs: DEFAULT_SERVER_MANDATORY_MS },
    });
    const server = await startCredentialServer({ profiles: { s: session } });
    try {
      let requests = 0;
      let minLeft = Infinity;
      const keys = new Set<string>();
      // Ask again and again until 4 rotations (5 credentials) and 300 answers, however long a busy machine takes.
      const deadline = Date.now() + 50_000;
      while (keys.size < 5 || requests < 300) {
        if (Date.now() > deadline) throw new Error(`${keys.size} credentials in ${requests} answers by the deadline`);
        const a = await send(server, "/profiles/s", { headers: { authorization: server.token } });
        expect(a.status).toBe(200);
        const body = JSON.parse(a.body) as { AccessKeyId: string; Expiration: string };
        minLeft = Math.min(minLeft, Date.parse(body.Expiration) - Date.now());
        keys.add(body.AccessKeyId);
        requests++;
        await new Promise((r) => setTimeout(r, 5)); // a child's pace, not a wait for anything
      }
      const calls = short.requests("sts:AssumeRole").map((r) => r.at.getTime());
      // One STS call per credential served, whatever the number of requests (one more may be under way).
      expect(calls.length).toBeGreaterThanOrEqual(keys.size);
      expect(calls.length).toBeLessThanOrEqual(keys.size + 1);
      // Each call after the second made in its credential's refresh window, never sooner: 4 s credentials,
      // refreshed at most 2 s before expiry (whole-second Expiration, and the clock-skew estimate, take up to 1 s off
      // that). The first credential's refresh is spread over its life (so a fleet started together refreshes apart)
      // and may come at any time before its window.
      for (let i = 2; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(1_000);
      // Every answer had life left (whole-second Expiration rounds down by up to 1 s).
      expect(minLeft).toBeGreaterThan(-1000);
    } finally {
      await server.close();
      session.close();
      await short.close();
    }
  });

  it("close() lets a request in flight finish", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let arrived: () => void = () => {};
    const inFlight = new Promise<void>((r) => (arrived = r));
    const server = await startCredentialServer({
      profiles: {
        slow: async () => {
          arrived(); // the server is answering the request: it is in flight
          await gate;
          return { ...emu.rootCredentials, sessionToken: "t", expiration: new Date(Date.now() + 3600_000) };
        },
      },
    });
    const pending = send(server, "/profiles/slow", { headers: { authorization: server.token } });
    await inFlight;
    const closed = server.close();
    release();
    expect((await pending).status).toBe(200);
    await closed;
  });
});

describe("server helpers", () => {
  it("tells loopback addresses and Host headers from others", () => {
    for (const a of ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]) {
      expect({ a, ok: isLoopbackAddress(a) }).toEqual({ a, ok: true });
    }
    for (const a of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost", "::2", "::ffff:10.0.0.1", "1::1"]) {
      expect({ a, ok: isLoopbackAddress(a) }).toEqual({ a, ok: false });
    }
    for (const h of ["127.0.0.1:9911", "localhost", "LOCALHOST:80", "[::1]:9911", "127.0.0.1"]) {
      expect({ h, ok: isLoopbackHost(h) }).toEqual({ h, ok: true });
    }
    for (const h of [
      undefined,
      "",
      "evil.example",
      "localhost.evil.example:1",
      "127.0.0.1.nip.io",
      "[::1]x",
      "a:b:c",
    ]) {
      expect({ h, ok: isLoopbackHost(h) }).toEqual({ h, ok: false });
    }
  });

  it("compares tokens exactly, raw or as Bearer", () => {
    const t = generateToken();
    expect(t).toMatch(/^[0-9a-f]{64}$/);
    expect(generateToken()).not.toBe(t);
    expect(tokenMatches(t, t)).toBe(true);
    expect(tokenMatches(t, `Bearer ${t}`)).toBe(true);
    expect(tokenMatches(t, t.slice(0, -1))).toBe(false);
    expect(tokenMatches(t, `${t} `)).toBe(false);
    expect(tokenMatches(t, undefined)).toBe(false);
    expect(tokenMatches(t, "")).toBe(false);
  });

  it("builds a child environment without the variables that would shadow the server", () => {
    const base: NodeJS.ProcessEnv = { PATH: "/bin", HOME: "/h", AWS_CONTAINER_AUTHORIZATION_TOKEN: "old" };
    for (const v of SHADOWING_ENV_VARS) base[v] = "x";
    const env = childEnvironment(base, {
      url: "http://127.0.0.1:1/profiles/a",
      token: "t".repeat(64),
      region: "eu-west-1",
      marker: "a",
    });
    for (const v of SHADOWING_ENV_VARS) expect(env[v]).toBeUndefined();
    expect(env).toMatchObject({
      PATH: "/bin",
      HOME: "/h",
      AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:1/profiles/a",
      AWS_CONTAINER_AUTHORIZATION_TOKEN: "t".repeat(64),
      AWS_REGION: "eu-west-1",
      AWS_DEFAULT_REGION: "eu-west-1",
      [EXEC_MARKER_ENV]: "a",
    });
    const withFile = childEnvironment(base, { url: "http://127.0.0.1:1/profiles/a", tokenFile: "/run/token" });
    expect(withFile.AWS_CONTAINER_AUTHORIZATION_TOKEN).toBeUndefined();
    expect(withFile.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE).toBe("/run/token");
    expect(base.AWS_PROFILE).toBe("x"); // the parent's own environment is untouched
    expect(() => childEnvironment(base, { url: "http://x" })).toThrow(TypeError);
  });
});
