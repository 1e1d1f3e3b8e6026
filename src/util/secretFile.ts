import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { fileError } from "./fileError.js";

/** Mode of every secret file written here: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of a directory created for secret files (and tightened to, when it is ours). */
export const PRIVATE_DIR_MODE = 0o700;

/** Creates a directory for secret files (mode 0700) and tightens an existing one of ours to 0700. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    throw fileError(err, dir, "create the directory");
  }
  try {
    const info = await stat(dir);
    if ((info.mode & 0o777) !== PRIVATE_DIR_MODE && (process.getuid === undefined || info.uid === process.getuid())) {
      await chmod(dir, PRIVATE_DIR_MODE);
    }
  } catch {
    /* best effort: a directory we cannot chmod still works */
  }
}

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
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    throw fileError(err, dir, "create the directory");
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fh;
  try {
    fh = await open(tmp, "wx", PRIVATE_FILE_MODE);
  } catch (err) {
    throw fileError(err, path, "write");
  }
  try {
    await fh.chmod(PRIVATE_FILE_MODE); // whatever the umask
    await fh.writeFile(content, "utf8");
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw fileError(err, path, "write");
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw fileError(err, path, "write");
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
