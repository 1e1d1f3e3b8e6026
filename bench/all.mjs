// `npm run bench`: runs every benchmark file in this folder, one after another, each in its own process so one
// benchmark's sockets, timers and heap do not disturb the next. Extra arguments (e.g. --quick) are passed on.
// fleet.mjs is left out: it runs for many minutes and has its own script, `npm run fleet`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
// core first: it is the baseline the others are read against.
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".mjs") && f !== "all.mjs" && f !== "fleet.mjs")
  .sort((a, b) => (a === "core.mjs" ? -1 : b === "core.mjs" ? 1 : a.localeCompare(b)));
let failed = 0;
for (const f of files) {
  console.log(`\n=== bench/${f} ===`);
  const r = spawnSync(process.execPath, ["--expose-gc", `${dir}${f}`, ...process.argv.slice(2)], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${f} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
