import { fromCredentialProcess } from "../sources/process.js";
import type { ProfileKindModule } from "./types.js";

/** `credential_process`: a command printing Version 1 JSON, run as the AWS CLI runs it, with a deadline. */
export const credentialProcessKind: ProfileKindModule = {
  kind: "credential-process",
  keys: ["credential_process"],
  matches: (entry) => entry.section.credential_process !== undefined,
  build: (entry, { config, init }) => {
    const command = entry.section.credential_process as string;
    const source = fromCredentialProcess({
      command,
      profile: entry.name,
      configFile: entry.inCredentials.credential_process !== undefined ? config.paths.credentials : config.paths.config,
      ...(init.processTimeoutMs !== undefined ? { timeoutMs: init.processTimeoutMs } : {}),
      env: init.env ?? config.env,
      ...(entry.section.aws_account_id ? { accountId: entry.section.aws_account_id } : {}),
    });
    const program = command.trim().split(/\s+/)[0] ?? "";
    return {
      kind: "credential-process",
      profile: entry.name,
      description: `credential_process \`${program}\``,
      temporary: true,
      source,
      status: async () => [
        { key: "process.command", label: `Profile ${entry.name}: credential_process runs`, value: program },
      ],
      close: () => source.close(),
    };
  },
};
