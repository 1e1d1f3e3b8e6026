import { readFileSync } from "node:fs";

/** How often {@link waitFor} and {@link waitForFile} look again. */
const POLL_MS = 20;

/**
 * Resolves with the first truthy value `condition()` returns, looking every 20 ms; rejects naming `what` once
 * `timeoutMs` (default 30 s) has passed. For things a test waits on that no event announces: a counter on the
 * emulator, a child's progress. A condition that throws rejects at once.
 */
export async function waitFor<T>(
  condition: () => T | undefined | null | false | 0 | "" | Promise<T | undefined | null | false | 0 | "">,
  options: { what: string; timeoutMs?: number },
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A file that ends with a newline: what `echo … > file`, `env > file` or a line-per-record log leaves complete. */
export const endsWithNewline = (text: string): boolean => text.endsWith("\n");

/**
 * Waits until the file at `path`, written by another process, holds what `complete` accepts (default: it ends with a
 * newline), and returns its text. Existence is not enough: `sh -c 'echo x > f'` creates the file empty, then writes, and
 * a reader in between sees ''. Rejects after `timeoutMs` (default 30 s) saying whether the file existed and how many
 * bytes it held, never its content (it may hold a token).
 */
export async function waitForFile(
  path: string,
  options: { complete?: (text: string) => boolean; timeoutMs?: number; what?: string } = {},
): Promise<string> {
  const complete = options.complete ?? endsWithNewline;
  let last: string | undefined;
  try {
    return await waitFor(
      () => {
        try {
          last = readFileSync(path, "utf8");
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
          throw err;
        }
        return complete(last) ? { text: last } : undefined;
      },
      {
        what: options.what ?? `${path} to be complete`,
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      },
    ).then((v) => v.text);
  } catch (err) {
    const state = last === undefined ? "it never existed" : `it held ${Buffer.byteLength(last)} bytes`;
    throw new Error(`${(err as Error).message} (${state})`, { cause: err });
  }
}
