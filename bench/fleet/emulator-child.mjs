// The emulator for the real-session scenarios of `npm run fleet`, in a process of its own (as STS is), so the
// sessions' process has its core to itself. Started with `fork()`; options arrive as argv[2] (JSON); answers
// `{ cmd: "stats" }` and `{ cmd: "close" }` over IPC.
//
// It answers on a listener with a listen backlog of 4096 (Node's default is 511): a wave of a thousand new
// connections would otherwise overflow the backlog and wait out TCP's SYN retransmits (1 s, 3 s, 7 s), a limit of a
// one-host bench, not of STS.
import { createServer } from "node:http";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startEmulator } from "../../dist/testing.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const options = JSON.parse(process.argv[2] ?? "{}");
const emu = await startEmulator(options);
const server = createServer();
server.keepAliveTimeout = 30_000;
emu.attach(server);
await new Promise((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
const url = `http://127.0.0.1:${server.address().port}`;

const admin = new S3Client({
  region: "us-east-1",
  endpoint: url,
  forcePathStyle: true,
  credentials: emu.rootCredentials,
});
await admin.send(new CreateBucketCommand({ Bucket: "fleet" }));
await admin.send(new PutObjectCommand({ Bucket: "fleet", Key: "k", Body: "x" }));
admin.destroy();

// AssumeRole arrivals per 100 ms, from the first `stats` call with `mark: true` on.
const bins = [];
let markedAt;
let last = emu.calls("sts:AssumeRole");
let lastThrottled = emu.throttled("sts:AssumeRole");
const throttledBins = [];
const sampler = setInterval(() => {
  const c = emu.calls("sts:AssumeRole");
  const t = emu.throttled("sts:AssumeRole");
  if (markedAt !== undefined) {
    bins.push(c - last);
    throttledBins.push(t - lastThrottled);
  }
  last = c;
  lastThrottled = t;
}, 100);

process.on("message", async (m) => {
  if (m.cmd === "mark") {
    markedAt = Date.now();
    last = emu.calls("sts:AssumeRole");
    lastThrottled = emu.throttled("sts:AssumeRole");
    process.send({ id: m.id });
  } else if (m.cmd === "stats") {
    process.send({
      id: m.id,
      calls: emu.calls("sts:AssumeRole"),
      throttled: emu.throttled("sts:AssumeRole"),
      bins,
      throttledBins,
    });
  } else if (m.cmd === "close") {
    clearInterval(sampler);
    await emu.close();
    process.send({ id: m.id });
    process.disconnect();
  }
});
process.send({ ready: true, url, rootCredentials: emu.rootCredentials });
