/** What a file system error code means, in words, with what usually fixes it. */
const MEANING: Record<string, string> = {
  EISDIR: "it is a directory: give the path of a file",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "a file is in the way where a directory must be",
  EACCES: "permission denied: check the owner and mode of the file and its directory",
  EPERM: "the operation is not permitted here: check the owner and mode",
  EROFS: "the file system is read-only: choose a writable path",
  ENOSPC: "the disk is full",
  ENOENT: "a directory on the path does not exist",
  ELOOP: "too many symbolic links on the path",
  ENAMETOOLONG: "the path is too long",
};

/**
 * A file system failure as a message a user can act on: what was being done, to which path, what the code means and
 * what to do — not a bare `EISDIR: illegal operation on a directory`. The original error is the `cause`, and its
 * `code` is kept.
 *
 * @example
 * ```ts
 * throw fileError(err, "/home/me/.aws/aws-refresh/serve.token", "write the token file");
 * ```
 */
export function fileError(err: unknown, path: string, action: string): Error {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const meaning = (code && MEANING[code]) ?? (err instanceof Error ? err.message : String(err));
  const e = new Error(`Could not ${action} ${path}: ${meaning}${code ? ` (${code})` : ""}`, { cause: err });
  if (code) (e as NodeJS.ErrnoException).code = code;
  return e;
}
