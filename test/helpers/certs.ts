import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A private temporary directory whose files are written whole (written beside, then renamed into place). */
export interface FileDir {
  readonly dir: string;
  /** Writes `content` to `name` atomically; returns the path. */
  write(name: string, content: string): string;
  remove(): void;
}

export function fileDir(prefix = "ars-certs-"): FileDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    dir,
    write(name, content) {
      const path = join(dir, name);
      const tmp = join(dir, `.${name}.${process.pid}.${n++}.tmp`);
      writeFileSync(tmp, content, { mode: 0o600 });
      renameSync(tmp, path);
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A clock shared by the engine and the emulator: move both forward together without sleeping. */
export interface SharedClock {
  now(): number;
  offsetMs: number;
}

export function sharedClock(): SharedClock {
  const c = { offsetMs: 0, now: () => Date.now() + c.offsetMs };
  return c;
}

/** A logger that keeps every line, to look for secrets and warnings. */
export function recordingLogger(): {
  lines: string[];
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
} {
  const lines: string[] = [];
  const push = (level: string) => (m: unknown) => void lines.push(`${level} ${String(m)}`);
  return { lines, debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
}
