// The reliability soak (docs/reliability.md): one engine over the real STS source against the emulator, `--loops`
// request loops signing GetCallerIdentity with it, `--rotations` credential rotations driven by the emulator's clock
// offset (no sleeping through lifetimes), and about `--fault-rate` of the source's calls failing (5xx, throttling,
// reset, malformed, already-expired). Prints one JSON line of figures, then closes everything and must exit on its
// own: a handle left behind keeps it alive, and the caller counts that as a failure. Run with --expose-gc. The
// emulator runs in a child process (emulator-process.mjs), so the heap and descriptors measured are the engine's.
// Needs dist/ (`npm run build`).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { SMITHY_CONTEXT_KEY } from "@smithy/types";
import { fromAssumeRole, refreshable } from "../../dist/index.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const ROTATIONS = arg("rotations", 1000);
const LOOPS = arg("loops", 64);
const FAULT_RATE = arg("fault-rate", 0.1);
const SEED = arg("seed", 7);
const ROLE = "arn:aws:iam::123456789012:role/soak";

if (typeof globalThis.gc !== "function") {
  console.error("run with node --expose-gc: the soak measures the heap after a full collection");
  process.exitCode = 2;
} else {
  await main();
}

/** Heap after two full collections, and this process's open file descriptors. */
function measure() {
  globalThis.gc();
  globalThis.gc();
  return { heapBytes: process.memoryUsage().heapUsed, fds: readdirSync("/proc/self/fd").length };
}

async function main() {
  const startedAt = Date.now();
  const child = spawn(
    process.execPath,
    [
      new URL("emulator-process.mjs", import.meta.url).pathname,
      "--fault-rate",
      String(FAULT_RATE),
      "--seed",
      String(SEED),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout });
  const pending = [];
  lines.on("line", (l) => pending.shift()?.(l));
  const nextLine = () => new Promise((r) => pending.push(r));
  const ask = (cmd) => {
    const p = nextLine();
    child.stdin.write(`${cmd}\n`);
    return p;
  };
  const emu = JSON.parse(await nextLine());
  // Every client signs with the emulator's clock, so the offset can run far past the 15 minutes of skew AWS allows.
  let offset = 0;
  const move = async (ms) => {
    await ask(`offset ${Math.round(ms)}`);
    offset = Math.round(ms);
  };
  const emulatorClock = {
    applyToStack(stack) {
      stack.addRelativeTo(
        (next, context) => (args) => {
          const config = context[SMITHY_CONTEXT_KEY]?.selectedHttpAuthScheme?.httpAuthOption?.signingProperties?.config;
          if (config && typeof config === "object") config.systemClockOffset = offset;
          return next(args);
        },
        { name: "soakClock", relation: "before", toMiddleware: "httpSigningMiddleware", override: true },
      );
    },
  };
  const source = fromAssumeRole({
    assumeRole: { RoleArn: ROLE, RoleSessionName: "soak" },
    sourceCredentials: async () => emu.root,
    region: emu.region,
    // One attempt per source call: each injected fault is a failed refresh, not an SDK retry.
    stsClientConfig: { endpoint: emu.url, maxAttempts: 1 },
    clientPlugins: [emulatorClock],
  });
  const engine = refreshable(source, {
    clock: { now: () => Date.now() + offset },
    name: "soak",
    retryBaseMs: 20,
    maxRetryMs: 100,
    sourceTimeoutMs: 10_000,
  });
  let failedRefreshes = 0;
  engine.on("refresh-failed", () => failedRefreshes++);

  const errors = {};
  let requests = 0;
  let running = true;
  const clients = Array.from({ length: LOOPS }, () => {
    // An application's clients, with the SDK's default retries (a keep-alive socket the server just closed is retried).
    const c = new STSClient({ region: emu.region, endpoint: emu.url, credentials: engine });
    c.middlewareStack.use(emulatorClock);
    return c;
  });
  // Each loop's request in flight, by the rotation it started in: the clock only jumps once every request signed
  // with the previous credential has been answered (a real clock never jumps past a request in flight).
  let generation = 0;
  const inflight = new Array(LOOPS).fill(-1);
  const loops = clients.map(async (client, i) => {
    while (running) {
      inflight[i] = generation;
      try {
        await client.send(new GetCallerIdentityCommand({}));
      } catch (err) {
        const name = err?.code ?? err?.name ?? "Error";
        errors[name] = (errors[name] ?? 0) + 1;
      }
      inflight[i] = -1;
      requests++;
    }
  });
  const drained = async () => {
    generation++;
    while (inflight.some((g) => g !== -1 && g < generation)) await new Promise((r) => setTimeout(r, 1));
  };

  // A rotation: move the clock to where the engine must refresh (its own refresh time in the advisory window, or a
  // point in the mandatory window where callers wait), never past the credential's expiry, and wait for the new one.
  const waitForNew = async (previousKey) => {
    for (;;) {
      const m = engine.metrics();
      if (m.expiration && engine.peek()?.accessKeyId !== previousKey && m.refreshes > 0) return;
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  let random = SEED;
  const rand = () => {
    random = (random * 1103515245 + 12345) % 2 ** 31;
    return random / 2 ** 31;
  };
  await engine();
  let start;
  let mandatoryRotations = 0;
  const warmup = Math.max(1, Math.floor(ROTATIONS / 20));
  for (let i = 0; i < ROTATIONS; i++) {
    if (i === warmup) start = measure();
    const m = engine.metrics();
    const expiresAt = m.expiration.getTime();
    const key = engine.peek()?.accessKeyId;
    let target;
    if (rand() < 0.3) {
      mandatoryRotations++;
      target = expiresAt - m.mandatoryMs * (0.3 + 0.6 * rand());
    } else {
      const due = Math.max(m.nextRefreshAt?.getTime() ?? 0, expiresAt - m.advisoryMs);
      target = Math.min(due + 2_000 * rand(), expiresAt - m.mandatoryMs - 1_000);
    }
    await move(target - Date.now());
    await waitForNew(key);
    await drained();
  }
  const end = measure();
  running = false;
  await Promise.all(loops);
  const stats = JSON.parse(await ask("stats"));
  const metrics = engine.metrics();
  engine.close();
  for (const c of clients) c.destroy();
  child.stdin.end();
  lines.close();
  console.log(
    JSON.stringify({
      rotations: ROTATIONS,
      mandatoryRotations,
      loops: LOOPS,
      faultRate: FAULT_RATE,
      requests,
      errors,
      expiredToken: (errors.ExpiredToken ?? 0) + (errors.ExpiredTokenException ?? 0),
      refreshes: metrics.refreshes,
      failedRefreshes,
      sourceCalls: stats.assumeRoleCalls,
      callerWaits: metrics.waits,
      heapStartBytes: start.heapBytes,
      heapEndBytes: end.heapBytes,
      fdStart: start.fds,
      fdEnd: end.fds,
      durationMs: Date.now() - startedAt,
    }),
  );
}
