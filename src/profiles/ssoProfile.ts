import { fromSso } from "../sources/sso.js";
import type { ProfileKindModule } from "./types.js";

/** An IAM Identity Center profile (`sso_session`, or a legacy one with `sso_start_url`), with its token refreshed. */
export const ssoKind: ProfileKindModule = {
  kind: "sso",
  keys: ["sso_session", "sso_start_url", "sso_account_id", "sso_role_name"],
  matches: (entry) => entry.section.sso_session !== undefined || entry.section.sso_start_url !== undefined,
  build: (entry, { config, init }) => {
    const s = entry.section;
    const source = fromSso({
      ...init.sso,
      profile: entry.name,
      // The files this profile was read from, not a second read of them.
      config,
      env: init.env ?? config.env,
      ...(init.logger ? { logger: init.logger } : {}),
      ...(init.clock ? { clock: init.clock } : {}),
      ...(init.clientPlugins ? { clientPlugins: init.clientPlugins } : {}),
    });
    return {
      kind: "sso",
      profile: entry.name,
      description:
        `IAM Identity Center (SSO)${s.sso_session ? ` session ${s.sso_session}` : ""}` +
        `${s.sso_account_id ? `, account ${s.sso_account_id}` : ""}${s.sso_role_name ? `, role ${s.sso_role_name}` : ""}`,
      temporary: true,
      source,
      validUntil: () => source.validUntil(),
      status: () => source.status(),
      bindEmitter: (emit) => source.bindEmitter(emit),
      close: () => source.close(),
    };
  },
};
