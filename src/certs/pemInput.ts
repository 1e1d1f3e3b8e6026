import { readFile } from "node:fs/promises";
import { RefreshSessionError } from "../errors.js";

/** A file path or the PEM text itself, as certificate sources accept for certificates, chains and keys. */
export type PemInput = string;

/** Whether `value` is PEM text rather than a path. */
export function isPemText(value: string): boolean {
  return value.includes("-----BEGIN ");
}

/** Where a {@link PemInput} comes from, for messages: the path, or `PEM text`. Never the content. */
export function describePemInput(value: string): string {
  return isPemText(value) ? "PEM text" : value;
}

/** Validates a {@link PemInput} option; throws a TypeError naming it. */
export function validatePemInput(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`\`${name}\` must be a file path or PEM text`);
  }
}

/**
 * Reads a {@link PemInput}: PEM text as it is, a path from disk, afresh at every call (so a file renewed on disk is
 * used from the next refresh on). A missing or unreadable file is a `CERTIFICATE_INVALID` naming the path.
 */
export async function readPemInput(
  value: string,
  what: string,
  context: { source: string; profile?: string },
): Promise<string> {
  if (isPemText(value)) return value;
  try {
    return await readFile(value, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RefreshSessionError(
      "CERTIFICATE_INVALID",
      `Cannot read the ${what} of "${context.source}" from ${value}: ` +
        (code === "ENOENT"
          ? "no such file. Write it there (the source reads it at every refresh) or fix the path."
          : code === "EACCES"
            ? "permission denied. Make it readable by this process's user."
            : (err as Error).message),
      { ...context, cause: err },
    );
  }
}
