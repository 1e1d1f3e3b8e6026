// Preloaded with `node --require` by the start-up tests: writes the list of every module the process loaded (the
// CommonJS ones from require's cache, the ES modules through a loader hook) to RECORD_MODULES_FILE, as JSON, when
// the process exits. File paths are absolute; built-ins appear as `node:…` URLs when imported as ES modules.
"use strict";
const fs = require("node:fs");
const Module = require("node:module");
const { fileURLToPath } = require("node:url");

const out = process.env.RECORD_MODULES_FILE;
const esmLog = `${out}.esm`;
if (out && typeof Module.register === "function") {
  // The hook runs on the loader's thread: it appends each URL as it loads, synchronously, before the module runs.
  const hooks =
    'import { appendFileSync } from "node:fs";\n' +
    `export async function load(url, context, next) { appendFileSync(${JSON.stringify(esmLog)}, url + "\\n"); ` +
    "return next(url, context); }\n";
  Module.register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

process.on("exit", () => {
  if (!out) return;
  let esm = [];
  try {
    esm = fs
      .readFileSync(esmLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((u) => (u.startsWith("file:") ? fileURLToPath(u) : u));
  } catch {
    // no ES module loaded
  }
  fs.writeFileSync(out, JSON.stringify([...new Set([...Object.keys(Module._cache), ...esm])]));
});
