// Copies each docs/examples/*.ts file into the pages that quote it: the ```ts block right after a
// `<!-- example: NAME.ts -->` line is replaced by the file's text. test/docs-examples.test.ts checks the copies.
// Usage: node scripts/docs-examples.mjs [page.md ...]   (default: README.md and docs/*.md)
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
const pages =
  process.argv.length > 2
    ? process.argv.slice(2)
    : [
        "README.md",
        ...readdirSync(join(root, "docs"))
          .filter((f) => f.endsWith(".md"))
          .map((f) => `docs/${f}`),
      ];
for (const page of pages) {
  const path = join(root, page);
  const text = readFileSync(path, "utf8");
  const next = text.replace(/(<!-- example: ([\w.-]+\.ts) -->\n\n?```ts\n)[\s\S]*?```/g, (_m, head, name) => {
    return `${head}${readFileSync(join(root, "docs/examples", name), "utf8")}\`\`\``;
  });
  if (next !== text) {
    writeFileSync(path, next);
    console.log(`updated ${page}`);
  }
}
