// The soak's emulator, in its own process so the soak's heap and file descriptors are the engine's and its clients'
// alone (the emulator remembers every credential it issues, by design). Prints its URL as one JSON line; then reads
// commands from stdin, one per line, answering each with a line: `offset <ms>` moves its clock, `stats` prints counts.
// Faults on sts:AssumeRole come from argv: --fault-rate R (shared by five kinds) and --seed S.
import { createInterface } from "node:readline";
import { startEmulator } from "../../dist/testing.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const rate = arg("fault-rate", 0.1);
const seed = arg("seed", 7);
const emu = await startEmulator({ credentialLifetimeSeconds: arg("lifetime", 600) });
const op = "sts:AssumeRole";
const per = rate / 5;
if (per > 0) {
  emu.fault(op, { error: { code: "ServiceUnavailable", status: 503 }, probability: per, seed });
  emu.fault(op, {
    error: { code: "Throttling", status: 400, message: "Rate exceeded" },
    probability: per,
    seed: seed + 1,
  });
  emu.fault(op, { reset: true, probability: per, seed: seed + 2 });
  emu.fault(op, { malformed: true, probability: per, seed: seed + 3 });
  emu.fault(op, { expired: true, probability: per, seed: seed + 4 });
}
console.log(JSON.stringify({ url: emu.url, region: emu.region, root: emu.rootCredentials }));
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const [cmd, value] = line.trim().split(" ");
  if (cmd === "offset") {
    emu.setClockOffset(Number(value));
    console.log("ok");
  } else if (cmd === "stats") {
    console.log(JSON.stringify({ assumeRoleCalls: emu.calls(op), calls: emu.calls() }));
  }
});
rl.on("close", () => void emu.close());
