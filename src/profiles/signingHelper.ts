import { errorMessage } from "../errors.js";
import { fromRolesAnywhere, isSigningHelperCommand, rolesAnywhereInitFromArgv } from "../sources/roles-anywhere.js";
import { shellSplit } from "../util/shellSplit.js";
import { credentialProcessKind } from "./credentialProcess.js";
import type { ProfileKindModule } from "./types.js";

function argvOf(command: string | undefined): string[] | undefined {
  if (command === undefined) return undefined;
  try {
    const argv = shellSplit(command);
    return isSigningHelperCommand(argv) ? argv : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A `credential_process` that runs `aws_signing_helper credential-process …` (IAM Roles Anywhere), served natively:
 * the same flags go to this library's Roles Anywhere source, which refreshes in the background instead of running the
 * helper (one CreateSession per call) at every request; the helper need not be installed. Flags the native source
 * cannot honour (certificate stores, TPM keys…) leave the profile to the helper itself, as a plain credential_process,
 * and `status` says why.
 */
export const signingHelperKind: ProfileKindModule = {
  kind: "roles-anywhere",
  keys: ["credential_process"],
  matches: (entry) => argvOf(entry.section.credential_process) !== undefined,
  build: (entry, ctx) => {
    const argv = argvOf(entry.section.credential_process) as string[];
    let init;
    try {
      init = rolesAnywhereInitFromArgv(argv);
    } catch (err) {
      const node = credentialProcessKind.build(entry, ctx);
      const why = errorMessage(err);
      return {
        ...node,
        description: `${node.description} (not served natively: ${why})`,
        status: async () => [
          ...((await node.status?.()) ?? []),
          {
            key: "rolesanywhere.servedNatively",
            label: `Profile ${entry.name}: aws_signing_helper served natively`,
            value: false,
            problem: `${why}; the helper runs at every credential request`,
          },
        ],
      };
    }
    const env = ctx.init.env ?? ctx.config.env;
    const source = fromRolesAnywhere({
      ...init,
      env,
      ...(ctx.init.logger ? { logger: ctx.init.logger } : {}),
      ...(ctx.init.clock ? { clock: ctx.init.clock } : {}),
    });
    return {
      kind: "roles-anywhere",
      profile: entry.name,
      description: `IAM Roles Anywhere for ${init.roleArn} (credential_process aws_signing_helper, served natively)`,
      temporary: true,
      source,
      region: source.region,
      validUntil: () => source.validUntil(),
      bindEmitter: (emit) => source.bindEmitter(emit),
      status: async () => [
        {
          key: "rolesanywhere.servedNatively",
          label: `Profile ${entry.name}: aws_signing_helper served natively`,
          value: true,
        },
        ...(await source.status()),
      ],
      close: () => source.close(),
    };
  },
};
