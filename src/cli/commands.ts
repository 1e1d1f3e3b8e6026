import type { Command } from "commander";
import { registerDemo } from "./demo.js";
import { registerEmulate } from "./emulate.js";
import { registerCredentialProcess } from "./credential-process.js";
import { registerExec } from "./exec.js";
import { registerServe } from "./serve.js";
import { registerStatus } from "./status.js";
import { registerLogin } from "./login.js";

/**
 * Each CLI command lives in its own file, exports `runX(input, deps): Promise<number>` for tests, and a
 * `registerX(program, setExitCode)` that wires it into commander. Add one line per command here.
 */
export type RegisterCommand = (program: Command, setExitCode: (code: number) => void) => void;

export const commands: RegisterCommand[] = [
  registerDemo,
  registerEmulate,
  registerExec,
  registerServe,
  registerCredentialProcess,
  registerStatus,
  registerLogin,
];
