import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileError } from "../util/fileError.js";
import { isSharedFile, writeSecretFile } from "../util/secretFile.js";

/** Bytes of randomness in a bearer token: 256 bits, rendered as 64 hexadecimal characters. */
export const TOKEN_BYTES = 32;
const TOKEN_FORMAT = /^[0-9a-f]{64}$/;

/**
 * A new random 256-bit bearer token for the credential server, as 64 hexadecimal characters.
 *
 * @example
 * ```ts
 * const server = await startCredentialServer({ profiles, token: generateToken() });
 * ```
 */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString("hex");
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/**
 * Compares a presented `Authorization` value with the token in constant time (both are hashed first, so neither the
 * length nor the first differing character leaks through timing). `Bearer <token>` is accepted too, for Prometheus and
 * health checkers that can only send that form.
 *
 * @example
 * ```ts
 * tokenMatches(token, req.headers.authorization); // true or false
 * ```
 */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  return tokenMatcher(expected)(presented);
}

/**
 * {@link tokenMatches} with the expected token hashed once: the credential server builds one at start-up and calls it
 * on every request.
 *
 * @example
 * ```ts
 * const matches = tokenMatcher(token);
 * matches(req.headers.authorization); // true or false
 * ```
 */
export function tokenMatcher(expected: string): (presented: string | undefined) => boolean {
  const want = digest(expected);
  return (presented) => {
    if (presented === undefined || expected === "") return false;
    const value = /^bearer /i.test(presented) ? presented.slice(7) : presented;
    // Both comparisons always run: which form matched must not show in the timing either.
    const raw = timingSafeEqual(want, digest(presented));
    const bearer = timingSafeEqual(want, digest(value));
    return raw || bearer;
  };
}

/**
 * The token kept in `path` when it is one (64 hex characters in a file only its owner can read); otherwise a new
 * token, written there atomically with mode 0600 and without a trailing newline (botocore sends the file's bytes as the
 * header verbatim). Reusing the token lets running programs and containers keep working across a daemon restart;
 * delete the file to rotate it.
 *
 * @example
 * ```ts
 * const token = await loadOrCreateTokenFile(`${homedir()}/.aws/aws-refresh/serve-9911.token`);
 * ```
 */
export async function loadOrCreateTokenFile(path: string): Promise<{ token: string; reused: boolean }> {
  try {
    const existing = (await readFile(path, "utf8")).trim();
    if (TOKEN_FORMAT.test(existing) && !(await isSharedFile(path))) return { token: existing, reused: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw fileError(err, path, "read the token file");
  }
  const token = generateToken();
  await writeSecretFile(path, token);
  return { token, reused: false };
}
