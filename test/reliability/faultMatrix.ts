/**
 * The fault matrix: every source kind x every fault x every window. In each cell a fresh engine gets its first
 * credential with no fault, the emulator's clock (the engine's clock too) is moved into the window, the fault is
 * injected on the source's operation, and a forced refresh plus `callers` concurrent callers run. Then the fault is
 * lifted and the engine must recover on its own, without a restart.
 */
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError } from "../../src/errors.js";
import { refreshable } from "../../src/refresh/refreshable.js";
import { throttlingAnswer, type Emulator, type FaultSpec } from "../../src/testing.js";
import { SOURCE_KINDS, startRig, type Rig, type SourceKind } from "./sources.js";

export const FAULTS = ["5xx", "throttling", "timeout", "reset", "malformed", "already-expired", "slow"] as const;
export type FaultKind = (typeof FAULTS)[number];
export const WINDOWS = ["fresh", "advisory", "mandatory", "expired"] as const;
export type WindowKind = (typeof WINDOWS)[number];

/** Sizes of one run of the matrix. */
export interface MatrixSizes {
  /** Concurrent callers per cell. */
  callers: number;
  /** Times each cell runs. */
  repeats: number;
  /** The engine's `sourceTimeoutMs` (and the source's own command/request timeout). */
  sourceTimeoutMs: number;
  /** Latency of the `slow` fault: well under the deadline. */
  slowMs: number;
  /** How long (real time) the engine has to recover once the fault is lifted. */
  recoveryTimeoutMs: number;
}

/** One cell's outcome. */
export interface CellResult {
  kind: SourceKind;
  fault: FaultKind;
  window: WindowKind;
  /** Callers (and signed requests) answered. */
  requests: number;
  /** Requests that failed while a valid credential existed, or got a credential the emulator refused. */
  failedWhileValid: number;
  /** Callers that got the typed error once no valid credential existed. */
  typedErrors: number;
  /** Why the cell failed, if it did (no secret: codes and counts only). */
  problems: string[];
  /** Real time from lifting the fault to a caller holding a new valid credential. */
  recoveryMs: number | undefined;
}

function faultSpec(fault: FaultKind, operation: string, sizes: MatrixSizes, deadlineMs: number): FaultSpec {
  switch (fault) {
    case "5xx":
      return { error: { code: "ServiceUnavailable", status: 503, message: "Service is unavailable (injected)" } };
    case "throttling": {
      const t = throttlingAnswer(operation);
      return { error: { code: t.code, status: t.status, message: t.message } };
    }
    case "timeout":
      return { latencyMs: deadlineMs * 2 };
    case "reset":
      return { reset: true };
    case "malformed":
      return { malformed: true };
    case "already-expired":
      return { expired: true };
    case "slow":
      return { latencyMs: sizes.slowMs };
  }
}

/** Whether the emulator accepts `c` now: a real signed GetCallerIdentity. */
async function accepted(emu: Emulator, c: AwsCredentialIdentity): Promise<string | undefined> {
  const sts = new STSClient({ region: emu.region, endpoint: emu.url, credentials: c, maxAttempts: 1 });
  try {
    await sts.send(new GetCallerIdentityCommand({}));
    return undefined;
  } catch (err) {
    return (err as Error).name;
  } finally {
    sts.destroy();
  }
}

function validAt(emu: Emulator, c: AwsCredentialIdentity): boolean {
  const known = emu.credential(c.accessKeyId);
  return known !== undefined && !known.revoked && (known.expiration ?? Infinity) > emu.now();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runCell(rig: Rig, fault: FaultKind, window: WindowKind, sizes: MatrixSizes): Promise<CellResult> {
  const { emu } = rig;
  emu.clearFaults();
  emu.setClockOffset(0);
  const result: CellResult = {
    kind: rig.kind,
    fault,
    window,
    requests: 0,
    failedWhileValid: 0,
    typedErrors: 0,
    problems: [],
    recoveryMs: undefined,
  };
  const engine = refreshable(rig.source, {
    clock: { now: () => emu.now() },
    name: rig.kind,
    sourceTimeoutMs: rig.timeoutMs,
    retryBaseMs: 50,
    maxRetryMs: 250,
  });
  try {
    const first = await engine();
    const m = engine.metrics();
    const expiresAt = (first.expiration as Date).getTime();
    const advisory = m.advisoryMs as number;
    const mandatory = m.mandatoryMs as number;
    const target =
      window === "fresh"
        ? emu.now() + 1_000
        : window === "advisory"
          ? expiresAt - (advisory + mandatory) / 2
          : window === "mandatory"
            ? expiresAt - mandatory / 2
            : expiresAt + 1_000;
    emu.setClockOffset(target - Date.now());
    const refreshesBefore = engine.metrics().refreshes;
    const stillValid = window !== "expired";
    const refreshCanSucceed = fault === "slow";
    emu.fault(rig.operation, faultSpec(fault, rig.operation, sizes, rig.timeoutMs));

    const forced = engine.refresh().then(
      () => "ok" as const,
      (e: unknown) => e,
    );
    const calls = await Promise.all(
      Array.from({ length: sizes.callers }, () =>
        engine().then(
          (c) => ({ ok: true as const, c }),
          (e: unknown) => ({ ok: false as const, e }),
        ),
      ),
    );
    const forcedOutcome = await forced;
    if (refreshCanSucceed && forcedOutcome !== "ok") {
      const why = forcedOutcome instanceof Error ? forcedOutcome.message.slice(0, 160) : String(forcedOutcome);
      result.problems.push(`the slow refresh failed: ${why}`);
    }
    if (!refreshCanSucceed && forcedOutcome === "ok") result.problems.push("a refresh succeeded through the fault");
    result.requests += calls.length;
    let sample: AwsCredentialIdentity | undefined;
    for (const call of calls) {
      if (stillValid || refreshCanSucceed) {
        if (!call.ok) {
          result.failedWhileValid++;
          const code = call.e instanceof RefreshSessionError ? call.e.code : (call.e as Error).name;
          result.problems.push(`caller failed while valid: ${code}`);
        } else if (!validAt(emu, call.c)) {
          result.failedWhileValid++;
          result.problems.push("caller got a credential the emulator holds expired");
        } else sample ??= call.c;
      } else if (call.ok) {
        result.problems.push("caller got a credential with none valid");
      } else if (call.e instanceof RefreshSessionError && call.e.code === "CREDENTIALS_EXPIRED") {
        result.typedErrors++;
        if (!call.e.message.includes(`"${rig.kind}"`)) result.problems.push("the error does not name the source");
        if (/\n\s+at /.test(call.e.message)) result.problems.push("the error message holds a stack trace");
      } else {
        const code = call.e instanceof RefreshSessionError ? call.e.code : (call.e as Error).name;
        result.problems.push(`expected CREDENTIALS_EXPIRED, got ${code}`);
      }
    }
    if (sample) {
      result.requests++;
      const refused = await accepted(emu, sample);
      if (refused) {
        result.failedWhileValid++;
        result.problems.push(`a served credential was refused: ${refused}`);
      }
    }

    // Recovery: lift the fault; the engine must get a new credential on its own (its retry timer) or for a caller.
    emu.clearFaults();
    const liftedAt = Date.now();
    for (;;) {
      const got = await engine().then(
        (c) => c,
        () => undefined,
      );
      if (got && validAt(emu, got) && engine.metrics().refreshes > refreshesBefore) {
        result.recoveryMs = Date.now() - liftedAt;
        break;
      }
      if (Date.now() - liftedAt > sizes.recoveryTimeoutMs) {
        result.problems.push(`no recovery within ${sizes.recoveryTimeoutMs} ms`);
        break;
      }
      await sleep(20);
    }
  } catch (err) {
    result.problems.push(`cell crashed: ${err instanceof RefreshSessionError ? err.code : (err as Error).name}`);
  } finally {
    engine.close();
    emu.clearFaults();
  }
  return result;
}

/**
 * Cells of a kind run in lanes side by side, each lane against its own emulator (its own clock and faults); the slow
 * kinds (a process spawned per call, an SDK client's own retries) get more lanes.
 */
const LANES: Record<SourceKind, number> = {
  sts: 2,
  "web-identity": 2,
  sso: 2,
  credential_process: 4,
  iot: 1,
  "roles-anywhere": 1,
  custom: 2,
};

/** One kind's cells, in its lanes. */
export async function runFaultMatrixFor(kind: SourceKind, sizes: MatrixSizes): Promise<CellResult[]> {
  const cells: [FaultKind, WindowKind][] = [];
  for (let r = 0; r < sizes.repeats; r++) for (const f of FAULTS) for (const w of WINDOWS) cells.push([f, w]);
  const lanes = Array.from({ length: LANES[kind] }, (_, lane) => cells.filter((_, i) => i % LANES[kind] === lane));
  const out = await Promise.all(
    lanes.map(async (mine) => {
      const rig = await startRig(kind, { timeoutMs: sizes.sourceTimeoutMs });
      const results: CellResult[] = [];
      try {
        for (const [fault, window] of mine) results.push(await runCell(rig, fault, window, sizes));
      } finally {
        await rig.close();
      }
      return results;
    }),
  );
  return out.flat();
}

/** Runs the whole matrix: the kinds side by side, each in its lanes. */
export async function runFaultMatrix(sizes: MatrixSizes): Promise<CellResult[]> {
  return (await Promise.all(SOURCE_KINDS.map((kind) => runFaultMatrixFor(kind, sizes)))).flat();
}
