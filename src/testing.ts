export {
  startEmulator,
  DEFAULT_ROOT_CREDENTIALS,
  DEFAULT_EMULATOR_LIFETIME_SECONDS,
  MAX_SKEW_MS,
  MAX_PRESIGN_SECONDS,
} from "./emulator/emulator.js";
export type {
  Emulator,
  EmulatorOptions,
  EmulatorRequestContext,
  EmulatorService,
  KnownCredential,
  RecordedRequest,
} from "./emulator/emulator.js";
export type { FaultSpec } from "./emulator/faults.js";
export { sendJson, sendJsonError } from "./emulator/xml.js";
