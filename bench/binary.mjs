// The single executable (dist/bin/aws-refresh, `npm run build:binary`) against the npm-installed CLI
// (`node dist/cli.js`), in one run: size on disk and start-up time, as ratios. Builds the binary if it is missing.
// Written to bench/results-binary.json. Nothing here is a pass/fail test.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { nodeFromNpm } from "../scripts/node-from-npm.mjs";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const BINARY = join(ROOT, "dist/bin/aws-refresh");
const CLI = join(ROOT, "dist/cli.js");
const quick = process.argv.includes("--quick");
const RUNS = quick ? 5 : 21;

if (!existsSync(BINARY) || !existsSync(`${BINARY}.build.json`)) {
  execFileSync(process.execPath, [join(ROOT, "scripts/build-binary.mjs")], { stdio: "inherit" });
}
/** What the build recorded: the embedded Node's version, among others. */
const build = JSON.parse(readFileSync(`${BINARY}.build.json`, "utf8"));
// The same Node release as the binary's, so the ratios tell the single file from the Node version.
const sameNode = nodeFromNpm(build.node).path;

/** Bytes under `path` (files and links as stored; a link is not followed). */
function du(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of readdirSync(path)) total += du(join(path, e));
  return total;
}

/**
 * What `npm install aws-refresh-session` puts on disk: the package as `npm pack` would ship it (less the binary,
 * which is not in it) plus its production dependency tree, each package counted once.
 */
function installedSize() {
  const [pack] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--silent"], { cwd: ROOT }));
  const own = pack.files.filter((f) => !f.path.startsWith("dist/bin/")).reduce((n, f) => n + f.size, 0);
  const tree = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable", "--silent"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .filter((p) => p && p !== ROOT);
  // A package's folder holds its nested node_modules, which are listed on their own: count the folder without them.
  const deps = [...new Set(tree)].reduce((n, dir) => {
    let size = 0;
    for (const e of readdirSync(dir)) if (e !== "node_modules") size += du(join(dir, e));
    return n + size;
  }, 0);
  return { own, deps, files: pack.files.length };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// A profile with long-term keys: `credential-process` reads the config and prints them, with no network call. It is
// what the AWS CLI runs on every invocation of a `credential_process` profile, where start-up time is the cost.
const home = mkdtempSync(join(tmpdir(), "bench-binary-"));
writeFileSync(
  join(home, "config"),
  "[profile root]\naws_access_key_id = AKIAEMULATORROOT0001\naws_secret_access_key = emulator-root-secret-key-not-for-aws-0001\n",
);
writeFileSync(join(home, "credentials"), "");
const env = {
  PATH: process.env.PATH,
  HOME: home,
  AWS_CONFIG_FILE: join(home, "config"),
  AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
  AWS_EC2_METADATA_DISABLED: "true",
};
const commands = {
  "--help": ["--help"],
  "credential-process (static keys)": ["credential-process", "--profile", "root", "--no-cache"],
};
const HERE = `node ${process.versions.node} dist/cli.js`;
const SAME = `node ${build.node} dist/cli.js`;
const variants = {
  binary: (args) => [BINARY, args],
  [HERE]: (args) => [process.execPath, ["--", CLI, ...args]],
  ...(build.node === process.versions.node ? {} : { [SAME]: (args) => [sameNode, ["--", CLI, ...args]] }),
};

function timeOnce([file, args]) {
  const t = performance.now();
  const r = spawnSync(file, args, { env, encoding: "utf8" });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const startup = {};
for (const [name, args] of Object.entries(commands)) {
  const times = Object.fromEntries(Object.keys(variants).map((v) => [v, []]));
  for (const v of Object.keys(variants)) timeOnce(variants[v](args)); // warm the page cache
  // Interleaved, so the machine's load falls on both alike.
  for (let i = 0; i < RUNS; i++) for (const v of Object.keys(variants)) times[v].push(timeOnce(variants[v](args)));
  const b = median(times.binary);
  const row = { [`binary (Node ${build.node}) ms`]: +b.toFixed(1) };
  for (const v of Object.keys(variants).filter((k) => k !== "binary")) {
    const n = median(times[v]);
    row[`${v} ms`] = +n.toFixed(1);
    row[`binary / ${v}`] = +(b / n).toFixed(2);
  }
  startup[name] = row;
}

const inst = installedSize();
const binaryBytes = lstatSync(BINARY).size;
const nodeBytes = lstatSync(process.execPath).size;
const MiB = (n) => +(n / 1024 / 1024).toFixed(1);
const size = {
  "binary MiB": MiB(binaryBytes),
  "npm install (package + production dependencies) MiB": MiB(inst.own + inst.deps),
  "binary / npm install": +(binaryBytes / (inst.own + inst.deps)).toFixed(1),
  "node executable here MiB": MiB(nodeBytes),
  "binary / (npm install + node)": +(binaryBytes / (inst.own + inst.deps + nodeBytes)).toFixed(2),
};
const results = { runs: RUNS, nodeHere: process.version, binaryNode: build.node, size, startup };
writeFileSync(new URL("./results-binary.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

console.log(`\nSingle executable vs the npm-installed CLI (${RUNS} interleaved runs each, median):`);
console.table(startup);
console.table(size);
console.log("(results in bench/results-binary.json)");
