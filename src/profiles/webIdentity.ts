import { fromWebIdentity } from "../sources/web-identity.js";
import { roleArnKey, secondsKey, sessionNameKey } from "./profileKeys.js";
import type { ProfileKindModule } from "./types.js";

/** `role_arn` with `web_identity_token_file`: AssumeRoleWithWebIdentity, the token file re-read at every refresh. */
export const webIdentityKind: ProfileKindModule = {
  kind: "web-identity",
  keys: ["role_arn", "web_identity_token_file"],
  matches: (entry) => entry.section.role_arn !== undefined && entry.section.web_identity_token_file !== undefined,
  build: (entry, { config, init }) => {
    const s = entry.section;
    const roleArn = roleArnKey(entry, config);
    const durationSeconds = secondsKey(entry, config, "duration_seconds", 900, 43_200);
    const roleSessionName = sessionNameKey(entry, config);
    const tokenFile = s.web_identity_token_file as string;
    return {
      kind: "web-identity",
      profile: entry.name,
      description: `web identity: assume ${roleArn} with the token in ${tokenFile}`,
      temporary: true,
      source: fromWebIdentity({
        roleArn,
        webIdentityTokenFile: tokenFile,
        ...(roleSessionName !== undefined ? { roleSessionName } : {}),
        ...(durationSeconds !== undefined ? { durationSeconds } : {}),
        ...(s.region ? { region: s.region } : {}),
        stsClientConfig: { ...init.stsClientConfig, ...(s.endpoint_url ? { endpoint: s.endpoint_url } : {}) },
        ...(init.clientPlugins ? { clientPlugins: init.clientPlugins } : {}),
        env: init.env ?? config.env,
      }),
      status: async () => [
        { key: "profile.role", label: `Profile ${entry.name}: role`, value: roleArn },
        { key: "webIdentity.tokenFile", label: "Web identity token file", value: tokenFile },
      ],
    };
  },
};
