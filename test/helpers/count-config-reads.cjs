// Preloaded with `node --require` by the config-read tests: counts how many times the files named in COUNT_PATHS
// (a JSON list) are opened or read, through fs.readFile, fs.promises.readFile, fs.readFileSync, fs.promises.open,
// fs.openSync and fs.open, and writes {path: count} to COUNT_FILE when the process exits. Calls Node makes from one
// of these to another (readFileSync opening through fs.openSync) count once.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const watched = new Set(JSON.parse(process.env.COUNT_PATHS || "[]").map((p) => path.resolve(p)));
const counts = Object.fromEntries([...watched].map((p) => [p, 0]));
let depth = 0;

function pathOf(arg) {
  if (typeof arg === "string") return path.resolve(arg);
  if (arg instanceof URL) return path.resolve(arg.pathname);
  if (Buffer.isBuffer(arg)) return path.resolve(arg.toString());
  return undefined; // a file descriptor or a FileHandle: already opened, and counted then
}

function wrap(owner, name) {
  const original = owner[name];
  owner[name] = function counted(file, ...rest) {
    const p = pathOf(file);
    if (depth === 0 && p !== undefined && watched.has(p)) counts[p]++;
    depth++;
    try {
      return original.call(this, file, ...rest);
    } finally {
      depth--;
    }
  };
}

wrap(fs, "readFile");
wrap(fs, "readFileSync");
wrap(fs, "openSync");
wrap(fs, "open");
wrap(fs.promises, "readFile");
wrap(fs.promises, "open");
// ESM `import { readFile } from "node:fs/promises"` sees the wrapped functions from here on.
require("node:module").syncBuiltinESMExports();

process.on("exit", () => {
  if (process.env.COUNT_FILE) fs.writeFileSync(process.env.COUNT_FILE, JSON.stringify(counts));
});
