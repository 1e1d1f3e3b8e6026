import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CommandError, runCommand } from "../src/util/childProcess.js";
import { shellSplit } from "../src/util/shellSplit.js";

/** Whether a process is alive (signal 0 probes without killing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

describe("runCommand", () => {
  it("kills the command's whole process group at the deadline, not only the shell", async () => {
    // The shell starts a grandchild that would outlive it, and writes its pid first. The deadline must fall after
    // that: on a machine too busy to get there within 500 ms, the run is tried again with a deadline 4 times longer.
    const pidFile = `/tmp/arsess-grandchild-${process.pid}-${Date.now()}`;
    let pid = 0;
    for (let timeoutMs = 500; pid === 0; timeoutMs *= 4) {
      rmSync(pidFile, { force: true });
      const started = Date.now();
      const err = await runCommand({ shell: `sleep 300 & echo $! > ${pidFile}; wait` }, { timeoutMs }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CommandError);
      expect((err as CommandError).reason).toBe("timeout");
      expect((err as CommandError).message).toBe(`\`sleep\` did not finish within ${timeoutMs} ms`);
      expect(Date.now() - started).toBeLessThan(timeoutMs + 20_000);
      // Killed at the deadline: nothing writes the file any more, so what it holds now is all it will hold.
      pid = Number((existsSync(pidFile) ? readFileSync(pidFile, "utf8") : "").trim());
      if (pid === 0 && timeoutMs >= 8_000) throw new Error(`the shell wrote no pid within ${timeoutMs} ms`);
    }
    rmSync(pidFile, { force: true });
    expect(pid).toBeGreaterThan(0);
    expect(await until(() => !alive(pid), 5_000)).toBe(true);
  });

  it("kills the group when aborted, and says the source was closed", async () => {
    const ac = new AbortController();
    const p = runCommand({ argv: ["sleep", "300"] }, { signal: ac.signal, timeoutMs: 60_000 });
    ac.abort(); // while it runs
    const err = (await p.catch((e: unknown) => e)) as CommandError;
    expect(err.reason).toBe("aborted");
  });

  it("answers with stdout once the command exits 0, even if it left a process holding the pipe", async () => {
    const out = await runCommand({ shell: "echo answer; sleep 300 &" }, { timeoutMs: 30_000 });
    expect(out.stdout).toBe("answer\n");
  });

  it("names not-found, non-zero exits and too much output, keeping stderr for the caller", async () => {
    const nf = (await runCommand({ argv: ["no-such-command-arsess"] }).catch((e: unknown) => e)) as CommandError;
    expect(nf.reason).toBe("not-found");
    expect(nf.message).toBe("`no-such-command-arsess` was not found");
    const ex = (await runCommand({ shell: "echo oops >&2; exit 3" }).catch((e: unknown) => e)) as CommandError;
    expect([ex.reason, ex.exitCode, ex.stderr.trim()]).toEqual(["exit", 3, "oops"]);
    const big = (await runCommand({ argv: ["yes"] }, { maxOutputBytes: 10_000 }).catch(
      (e: unknown) => e,
    )) as CommandError;
    expect(big.reason).toBe("output-too-large");
  });
});

describe("shellSplit", () => {
  const cases = [
    `aws-refresh credential-process --profile ml`,
    `tool "a b" 'c d' e\\ f`,
    `tool "x\\"y" 'it'"'"'s' "\\$HOME" '$HOME'`,
    `  lots   of    space  `,
    `tool "" '' end`,
    `tool a"b"c 'd'e`,
    `tool "back\\\\slash" "keep\\n"`,
    `tool --json={"a":1}`,
    `tool tab\there`,
  ];
  const py = spawnSync(
    "python3",
    ["-c", "import shlex,sys,json; print(json.dumps([shlex.split(l) for l in json.load(sys.stdin)]))"],
    {
      input: JSON.stringify(cases),
      encoding: "utf8",
    },
  );
  it.skipIf(py.status !== 0)("splits every case exactly as Python's shlex.split (what botocore runs)", () => {
    const expected = JSON.parse(py.stdout) as string[][];
    expect(cases.map(shellSplit)).toEqual(expected);
  });

  it("refuses unterminated quotes and a trailing backslash", () => {
    expect(() => shellSplit(`tool "open`)).toThrow("unterminated double quote");
    expect(() => shellSplit(`tool 'open`)).toThrow("unterminated single quote");
    expect(() => shellSplit(`tool \\`)).toThrow("lone backslash");
  });
});
