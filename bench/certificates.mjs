// Refresh latency of the certificate sources against the emulator, side by side in one run with STS AssumeRole (the
// baseline) and a cache hit: IoT Core's credentials provider (mutual TLS) and IAM Roles Anywhere (SigV4-X509), each
// with a PEM key and, where SoftHSM2 is installed, a PKCS#11 key. A "refresh" is one forced source call through the
// session's engine (certificate and key read from disk, signature or handshake, the endpoint's answer).
// Figures go to bench/results-certificates.json. Nothing here is a pass/fail test.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { RefreshableSession } from "../dist/index.js";
import { addRolesAnywhere, createTestCa, startEmulator, startIotCredentialsEndpoint } from "../dist/testing.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const execFileAsync = promisify(execFile);
const quick = process.argv.includes("--quick");
const N = quick ? 10 : 40;
const ROLE = "arn:aws:iam::123456789012:role/bench";
const SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so";
const dir = mkdtempSync(join(tmpdir(), "ars-bench-certs-"));
const write = (name, text) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: s.at(-1) };
}

/** Median of forced refreshes of a session (after one warm-up), and of cache hits. */
async function measure(session) {
  await session.credentials();
  await session.refresh();
  const refresh = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await session.refresh();
    refresh.push(performance.now() - t);
  }
  const hit = [];
  for (let i = 0; i < N * 50; i++) {
    const t = performance.now();
    await session.credentials();
    hit.push(performance.now() - t);
  }
  session.close();
  return { refresh: stats(refresh), hit: stats(hit) };
}

// SoftHSM2: a token with the keys, if the tool is here.
let hsm;
if (spawnSync("softhsm2-util", ["--version"]).status === 0) {
  const tokens = join(dir, "tokens");
  execFileSync("mkdir", ["-p", tokens]);
  process.env.SOFTHSM2_CONF = write("softhsm2.conf", `directories.tokendir = ${tokens}\nobjectstore.backend = file\n`);
  execFileSync("softhsm2-util", [
    "--init-token",
    "--free",
    "--label",
    "bench",
    "--pin",
    "bench-pin",
    "--so-pin",
    "so-pin",
  ]);
  hsm = {
    import(pem, label, id) {
      const file = write(`${label}.p8`, createPrivateKey(pem).export({ type: "pkcs8", format: "pem" }));
      execFileSync("softhsm2-util", [
        "--import",
        file,
        "--token",
        "bench",
        "--label",
        label,
        "--id",
        id,
        "--pin",
        "bench-pin",
      ]);
      rmSync(file);
      return { pkcs11: { module: SOFTHSM, tokenLabel: "bench", pin: "bench-pin", keyLabel: label } };
    },
  };
} else {
  console.log("SoftHSM2 is not installed: the PKCS#11 rows are left out (apt-get install softhsm2)");
}

const emu = await startEmulator();
const iot = await startIotCredentialsEndpoint(emu, {
  roleAliases: { bench: { roleArn: ROLE } },
});
const root = await createTestCa();
const ra = addRolesAnywhere(emu, {
  trustAnchors: [{ certificates: [root.certificate] }],
  profiles: [{ roleArns: [ROLE] }],
});
const rows = {};

rows["sts AssumeRole (baseline)"] = await measure(
  new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: ROLE },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig: { endpoint: emu.url },
    region: emu.region,
  }),
);

for (const keyAlgorithm of ["EC", "RSA"]) {
  const device = await iot.deviceCa.leaf({ keyAlgorithm });
  const iotBase = { method: "iot", endpoint: iot.url, ca: iot.serverCa, roleAlias: "bench", region: emu.region };
  const certificate = write(`iot-${keyAlgorithm}.pem`, device.certificate);
  rows[`iot ${keyAlgorithm} PEM key`] = await measure(
    new RefreshableSession({
      ...iotBase,
      certificate,
      privateKey: write(`iot-${keyAlgorithm}.key`, device.privateKey),
    }),
  );
  if (hsm) {
    rows[`iot ${keyAlgorithm} PKCS#11 key (aws-crt)`] = await measure(
      new RefreshableSession({
        ...iotBase,
        certificate,
        privateKey: hsm.import(device.privateKey, `iot-${keyAlgorithm}`, keyAlgorithm === "EC" ? "01" : "02"),
      }),
    );
  }
  const host = await root.leaf({ keyAlgorithm });
  const raBase = {
    method: "roles-anywhere",
    trustAnchorArn: ra.trustAnchorArns[0],
    profileArn: ra.profileArns[0],
    roleArn: ROLE,
    endpoint: emu.url,
    certificate: write(`ra-${keyAlgorithm}.pem`, host.certificate),
  };
  rows[`roles-anywhere ${keyAlgorithm} PEM key`] = await measure(
    new RefreshableSession({ ...raBase, privateKey: write(`ra-${keyAlgorithm}.key`, host.privateKey) }),
  );
  if (hsm) {
    rows[`roles-anywhere ${keyAlgorithm} PKCS#11 key (pkcs11js)`] = await measure(
      new RefreshableSession({
        ...raBase,
        privateKey: hsm.import(host.privateKey, `ra-${keyAlgorithm}`, keyAlgorithm === "EC" ? "03" : "04"),
      }),
    );
  }
}
// `aws-refresh credential-process` through a profile whose credential_process is an aws_signing_helper command (served
// natively): a fetch (--no-cache: a CreateSession, as the helper makes at every call) vs a cache hit, each a whole
// process, as an SDK runs it.
const host = await root.leaf({ commonName: "bench-helper" });
const configFile = write(
  "config",
  "[profile ra]\nregion = us-east-1\n" +
    `credential_process = aws_signing_helper credential-process --certificate ${write("h.pem", host.certificate)} ` +
    `--private-key ${write("h.key", host.privateKey)} --trust-anchor-arn ${ra.trustAnchorArns[0]} ` +
    `--profile-arn ${ra.profileArns[0]} --role-arn ${ROLE} --endpoint ${emu.url}\n`,
);
const cli = new URL("../dist/cli.js", import.meta.url).pathname;
const cliEnv = {
  ...process.env,
  AWS_CONFIG_FILE: configFile,
  AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"),
  HOME: dir,
};
const runs = quick ? 5 : 15;
// Asynchronously: the emulator answering the child lives in this process's event loop.
const timeProcess = async (extra) => {
  const t = performance.now();
  await execFileAsync(process.execPath, [cli, "credential-process", "--profile", "ra", ...extra], { env: cliEnv });
  return performance.now() - t;
};
const times = async (extra) => {
  const out = [];
  for (let i = 0; i < runs; i++) out.push(await timeProcess(extra));
  return out;
};
await timeProcess([]); // fills the cache
const processRows = {
  "credential-process, fetch (--no-cache)": stats(await times(["--no-cache"])),
  "credential-process, cache hit": stats(await times([])),
};
await emu.close();
rmSync(dir, { recursive: true, force: true });

const base = rows["sts AssumeRole (baseline)"].refresh.p50;
console.log(
  `\nRefresh latency, ${N} forced refreshes each (ms), and a cache hit (µs), against the emulator on loopback`,
);
console.log("| source | refresh p50 | p95 | × STS p50 | cache hit p50 (µs) |");
console.log("| --- | --- | --- | --- | --- |");
for (const [name, r] of Object.entries(rows)) {
  console.log(
    `| ${name} | ${r.refresh.p50.toFixed(2)} | ${r.refresh.p95.toFixed(2)} | ${(r.refresh.p50 / base).toFixed(2)} | ${(r.hit.p50 * 1000).toFixed(1)} |`,
  );
}
const hitP50 = processRows["credential-process, cache hit"].p50;
console.log(`\ncredential-process through the aws_signing_helper profile, ${runs} processes each (ms, whole process)`);
console.log("| run | p50 | p95 | × cache hit p50 |");
console.log("| --- | --- | --- | --- |");
for (const [name, r] of Object.entries(processRows)) {
  console.log(`| ${name} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${(r.p50 / hitP50).toFixed(2)} |`);
}
writeFileSync(
  new URL("./results-certificates.json", import.meta.url),
  `${JSON.stringify({ N, rows, processRows }, null, 2)}\n`,
);
