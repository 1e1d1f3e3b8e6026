import { createServer, type Server, type Socket } from "node:net";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { CreateTokenCommand } from "@aws-sdk/client-sso-oidc";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromAssumeRole } from "../src/sources/sts.js";
import { fromWebIdentity } from "../src/sources/web-identity.js";
import { fromSso } from "../src/sources/sso.js";
import { createOidcClient } from "../src/sso/oidc.js";
import { isRetryableSourceError } from "../src/refresh/retryable.js";
import { createSdkClient, DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from "../src/util/sdkClient.js";
import { ssoWorld, type SsoWorld } from "./helpers/sso.js";

const ROLE = "arn:aws:iam::123456789012:role/hung";
const ROOT = { accessKeyId: "AKIAEXAMPLEROOT00001", secretAccessKey: "not-a-secret" };
const JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln";

/** A loopback server that accepts every connection and never answers (an endpoint hung behind a load balancer). */
async function silentServer(): Promise<{ url: string; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let seen = 0;
  const server: Server = createServer((s) => {
    seen++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.resume(); // read the request, answer nothing
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** How long `p` took to reject, and with what. Fails the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const t = Date.now();
  try {
    await p;
  } catch (err) {
    return { ms: Date.now() - t, err };
  }
  throw new Error("expected a rejection");
}

let silent: Awaited<ReturnType<typeof silentServer>>;
let world: SsoWorld;
beforeAll(async () => {
  silent = await silentServer();
  world = await ssoWorld();
  await world.login("dev");
});
afterAll(async () => {
  await silent.close();
  await world.close();
});

describe("SDK clients our sources create time out on an endpoint that never answers", () => {
  // One attempt each (the SDK would retry a timeout twice more): the default request timeout alone ends each call.
  // All five run at once, so the test takes one request timeout, not five.
  it("STS (AssumeRole and the MFA session's GetSessionToken), web identity, the SSO portal and SSO-OIDC", async () => {
    const stsClientConfig = { endpoint: silent.url, maxAttempts: 1 };
    const calls = {
      assumeRole: fromAssumeRole({
        assumeRole: { RoleArn: ROLE },
        sourceCredentials: async () => ROOT,
        region: "us-east-1",
        stsClientConfig,
      })(),
      mfaSession: fromAssumeRole({
        assumeRole: { RoleArn: ROLE },
        sourceCredentials: async () => ROOT,
        mfa: { serialNumber: "arn:aws:iam::123456789012:mfa/me", tokenCode: async () => "123456" },
        region: "us-east-1",
        stsClientConfig,
      })(),
      webIdentity: fromWebIdentity({
        roleArn: ROLE,
        webIdentityToken: async () => JWT,
        region: "us-east-1",
        stsClientConfig,
      })(),
      ssoPortal: fromSso({ profile: "dev", ssoClientConfig: { endpoint: silent.url, maxAttempts: 1 } })(),
      ssoOidc: createOidcClient("us-east-1", { endpoint: silent.url, maxAttempts: 1 }).send(
        new CreateTokenCommand({ grantType: "refresh_token", clientId: "c", clientSecret: "s", refreshToken: "r" }),
      ),
    };
    const before = silent.connections();
    const results = await Promise.all(Object.values(calls).map(rejection));
    expect(silent.connections() - before).toBeGreaterThanOrEqual(5);
    for (const [i, { ms, err }] of results.entries()) {
      const which = Object.keys(calls)[i];
      // The request timeout, not the connection's (it connected) nor the SDK's 5-minute socket default.
      expect(ms, which).toBeGreaterThanOrEqual(DEFAULT_REQUEST_TIMEOUT_MS - 500);
      expect(ms, which).toBeLessThan(DEFAULT_REQUEST_TIMEOUT_MS + 15_000);
      expect(isRetryableSourceError(err), `${which}: ${String(err)}`).toBe(true);
    }
  }, 60_000);

  it("a requestHandler in the client config wins: options merge over ours, an instance is used as it is", async () => {
    const quick = createSdkClient(
      STSClient,
      {
        region: "us-east-1",
        endpoint: silent.url,
        credentials: ROOT,
        maxAttempts: 1,
        requestHandler: { requestTimeout: 300 },
      },
      "sts",
    );
    const { ms, err } = await rejection(quick.send(new GetCallerIdentityCommand({})));
    expect(ms).toBeLessThan(5_000);
    expect((err as Error).name).toBe("TimeoutError");
    const handler = quick.config.requestHandler as NodeHttpHandler;
    expect(handler.httpHandlerConfigs()).toMatchObject({
      requestTimeout: 300,
      connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    });
    quick.destroy();
    const mine = new NodeHttpHandler({ requestTimeout: 1234 });
    const own = createSdkClient(STSClient, { region: "us-east-1", credentials: ROOT, requestHandler: mine }, "sts");
    expect(own.config.requestHandler).toBe(mine);
    own.destroy();
  });

  it("adds the SDK's adaptive retry mode with one rate limiter per endpoint, unless the config or env chooses", async () => {
    const config = { region: "us-east-1", endpoint: silent.url, credentials: ROOT };
    const a = createSdkClient(STSClient, config, "sts");
    const b = createSdkClient(STSClient, { ...config }, "sts");
    const other = createSdkClient(STSClient, { ...config, endpoint: "http://127.0.0.1:1" }, "sts");
    const strategy = async (c: STSClient) =>
      (await (c.config.retryStrategy as () => Promise<unknown>)()) as { mode: string; rateLimiter: unknown };
    expect((await strategy(a)).mode).toBe("adaptive");
    expect((await strategy(a)).rateLimiter).toBe((await strategy(b)).rateLimiter);
    expect((await strategy(a)).rateLimiter).not.toBe((await strategy(other)).rateLimiter);
    const chosen = createSdkClient(STSClient, { ...config, retryMode: "standard" }, "sts");
    expect((await strategy(chosen)).mode).toBe("standard");
    const fromEnv = createSdkClient(STSClient, { ...config }, "sts", { AWS_RETRY_MODE: "standard" });
    expect((await strategy(fromEnv)).mode).toBe("standard");
    for (const c of [a, b, other, chosen, fromEnv]) c.destroy();
  });
});
