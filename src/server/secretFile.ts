import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join, basename } from "node:path";

/**
 * Writes `content` to `path` atomically with mode 0600: a temporary file beside it (created 0600, never readable by
 * others, flushed to disk) is renamed over the target, so a reader sees the old file or the new one, never half of
 * one. A missing parent directory is created with mode 0700.
 *
 * @example
 * ```ts
 * await writeSecretFile("/home/me/.aws/aws-refresh/serve.token", token);
 * ```
 */
export async function writeSecretFile(path: string, content: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.chmod(0o600); // whatever the umask
    await fh.writeFile(content, "utf8");
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Whether a file mode lets anyone but its owner read or write (POSIX mode bits; always false on Windows). */
export function isSharedMode(mode: number): boolean {
  return process.platform !== "win32" && (mode & 0o077) !== 0;
}

/** Whether a file is readable or writable by anyone but its owner (POSIX mode bits; always false on Windows). */
export async function isSharedFile(path: string): Promise<boolean> {
  return isSharedMode((await stat(path)).mode);
}
