import { open, readFile, rm, stat } from "node:fs/promises";
import { RefreshSessionError } from "../errors.js";

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** Give up waiting for another holder after this long. Default 120000. */
  timeoutMs?: number;
  /** A lock file older than this is taken to be left behind by a crashed process. Default 300000. */
  staleMs?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` holding an exclusive lock file at `path` (created with O_EXCL, mode 0600, holding the owner's pid), so
 * processes sharing a cache fetch one at a time. A lock whose owner died or that is older than `staleMs` is broken.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const staleMs = options.staleMs ?? 300_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(path, "wx", 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    try {
      const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
      const pid = Number(text.trim());
      if ((Number.isInteger(pid) && pid > 0 && !alive(pid)) || Date.now() - info.mtimeMs > staleMs) {
        await rm(path, { force: true });
        continue;
      }
    } catch {
      continue; // released between our attempts
    }
    if (Date.now() > deadline) {
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        `Another aws-refresh process has held ${path} for over ${Math.round(timeoutMs / 1000)} s; ` +
          "if none is running, delete that file",
      );
    }
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 50));
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
