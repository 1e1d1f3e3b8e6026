#!/usr/bin/env node
// `npm run build:binary`: one executable, dist/bin/aws-refresh, that runs every CLI command on a machine without
// Node.js. It is a Node single executable application (SEA): the CLI and every dependency bundled by esbuild into one
// CommonJS script, turned into a blob by the embedded Node's `--experimental-sea-config`, and injected into a copy
// of that Node's executable with postject. See docs/binary.md.
//
//   node scripts/build-binary.mjs                          Node 24 from npm, for this machine
//   node scripts/build-binary.mjs --node /usr/bin/node     embed this Node instead (it must run here)
//   node scripts/build-binary.mjs --node-version 22        another Node release from npm
//   node scripts/build-binary.mjs --target linux-arm64     another platform (its Node from npm; blob made here)
//   node scripts/build-binary.mjs --out path/to/file
//
// Nothing here lists the CLI's modules: esbuild follows every import from src/cli/main.ts, static or dynamic. A
// dynamic import() of our own modules becomes a lazily initialised module inside the bundle (its code runs when the
// import() does, as in dist/cli.js), and every import() left (Node built-ins, whatever a dependency imports) becomes a
// require(): a SEA's main script can require built-ins but cannot import() files. An import() esbuild cannot resolve
// at build time (a computed specifier) would fail in the binary, so the build refuses it.
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { nodeFromNpm } from "./node-from-npm.mjs";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
/** The version `--version` prints, as tsup defines it for dist/cli.js. */
const PACKAGE_VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
/** The Node release a binary embeds unless told otherwise: the active LTS line (Node 20 is past its end of life). */
export const DEFAULT_BINARY_NODE = "24";
/** The fuse Node's SEA support looks for; postject flips it when it injects the blob. */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64", "win32-arm64"];

function parseArgs(argv) {
  const opts = {
    node: undefined,
    nodeVersion: undefined,
    target: `${process.platform}-${process.arch}`,
    out: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--node") opts.node = value();
    else if (a === "--node-version") opts.nodeVersion = value();
    else if (a === "--target") opts.target = value();
    else if (a === "--out") opts.out = value();
    else if (a === "--help" || a === "-h") {
      console.log(
        readFileSync(fileURLToPath(import.meta.url), "utf8")
          .split("\n")
          .slice(1, 12)
          .join("\n"),
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(a)} (see --help)`);
  }
  if (!TARGETS.includes(opts.target)) throw new Error(`--target must be one of ${TARGETS.join(", ")}`);
  if (opts.node && opts.nodeVersion) throw new Error("pass --node or --node-version, not both");
  if (opts.node && opts.target !== `${process.platform}-${process.arch}`) {
    throw new Error("--node embeds a Node that runs here; for another --target use --node-version");
  }
  return opts;
}

const log = (m) => console.error(`build:binary: ${m}`);

/** The Node to embed and the (same version) Node that runs here to make the blob. */
function pickNodes(opts, platform, arch) {
  if (opts.node) {
    const path = resolve(opts.node);
    const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim().replace(/^v/, "");
    return { embed: path, host: path, version };
  }
  const wanted = opts.nodeVersion ?? DEFAULT_BINARY_NODE;
  const target = nodeFromNpm(wanted, { platform, arch, log });
  if (platform === process.platform && arch === process.arch) {
    return { embed: target.path, host: target.path, version: target.version };
  }
  // The blob must be made by the very version it runs in; without a code cache or snapshot it is the same bytes on
  // every platform, so this machine's build of that version makes it.
  const host = nodeFromNpm(target.version, { log });
  return { embed: target.path, host: host.path, version: target.version };
}

/** Bundles the CLI and every dependency into one CommonJS file. */
async function bundle(outfile, nodeMajor) {
  const result = await build({
    entryPoints: [join(ROOT, "src/cli/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${nodeMajor}`,
    // import() -> require(): built-ins and bundled modules alike, still evaluated only when the import() runs.
    supported: { "dynamic-import": false },
    // Not tsconfig.json: its `strict` would put "use strict" atop the whole bundle, and the dependencies' CommonJS
    // builds were written for sloppy mode (the SDK assigns to a credential provider's read-only `memoized`).
    tsconfigRaw: { compilerOptions: { alwaysStrict: false, useDefineForClassFields: true } },
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    sourcemap: false,
    legalComments: "eof",
    logLevel: "warning",
    metafile: true,
    // What tsup defines for dist/cli.js: the version `--version` prints.
    define: { __AWS_REFRESH_VERSION__: JSON.stringify(PACKAGE_VERSION) },
  });
  const code = readFileSync(outfile, "utf8");
  // A method named `import` (@peculiar/x509's PEM importers, for `emulate`'s test CA) is followed by its body.
  const left = code.match(/(?<![\w$.])import\s*\((?![^()]*\)\s*\{)/g);
  if (left) throw new Error(`${left.length} import() calls esbuild could not resolve are left in the bundle`);
  return { inputs: Object.keys(result.metafile.inputs).length, bytes: Buffer.byteLength(code) };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [platform, arch] = opts.target.split("-");
  const windows = platform === "win32";
  const out = resolve(opts.out ?? join(ROOT, "dist", "bin", windows ? "aws-refresh.exe" : "aws-refresh"));
  const { embed, host, version } = pickNodes(opts, platform, arch);
  const sameMachine = platform === process.platform && arch === process.arch;
  log(`embedding Node ${version} (${embed}) for ${opts.target}`);

  const work = mkdtempSync(join(tmpdir(), "aws-refresh-sea-"));
  try {
    const script = join(work, "aws-refresh.cjs");
    const b = await bundle(script, version.split(".")[0]);
    log(`bundled ${b.inputs} modules into ${(b.bytes / 1024).toFixed(0)} KiB`);
    const blob = join(work, "sea.blob");
    const config = {
      main: script,
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8's code cache is tied to the platform and Node build: only when the binary is for the Node making the blob.
      useCodeCache: sameMachine && embed === host,
      useSnapshot: false,
    };
    writeFileSync(join(work, "sea-config.json"), JSON.stringify(config));
    execFileSync(host, ["--experimental-sea-config", join(work, "sea-config.json")], {
      stdio: ["ignore", "ignore", "inherit"],
    });

    mkdirSync(dirname(out), { recursive: true });
    rmSync(out, { force: true });
    copyFileSync(embed, out);
    chmodSync(out, 0o755);
    const darwin = platform === "darwin";
    if (darwin && process.platform === "darwin") execFileSync("codesign", ["--remove-signature", out]);
    const postject = join(ROOT, "node_modules", "postject", "dist", "cli.js");
    const args = [postject, out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE];
    if (darwin) args.push("--macho-segment-name", "NODE_SEA");
    const injected = spawnSync(process.execPath, args, { encoding: "utf8" });
    // LIEF warns about every ELF note section it cannot name; those lines say nothing about the result.
    const noise = /^warning: Can't find string offset for section name/;
    const said = injected.stderr.split("\n").filter((l) => l && !noise.test(l));
    if (said.length) console.error(said.join("\n"));
    if (injected.status !== 0) throw new Error(`postject failed (${injected.status ?? injected.signal})`);
    if (darwin && process.platform === "darwin") execFileSync("codesign", ["--sign", "-", out]);
    else if (darwin) log("not signed: run `codesign --sign - <file>` (or your identity) on macOS before it will run");
    if (windows) log("not signed: sign it with signtool for SmartScreen; it runs unsigned");

    if (sameMachine) {
      // With an empty PATH: the binary needs no node (Windows needs SystemRoot to start a process at all).
      const env = windows ? { PATH: "", SystemRoot: process.env.SystemRoot } : { PATH: "" };
      const got = execFileSync(out, ["--help"], { encoding: "utf8", env }).split("\n")[0];
      log(`${out} runs: aws-refresh --help -> ${got}`);
    }
    // What went in, for a release's notes and for bench/binary.mjs.
    const record = {
      node: version,
      target: opts.target,
      modules: b.inputs,
      bundleBytes: b.bytes,
      codeCache: config.useCodeCache,
    };
    writeFileSync(`${out}.build.json`, `${JSON.stringify(record, null, 2)}\n`);
    log(`wrote ${out} (${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`build:binary: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
