import { fromLogin } from "../sources/login.js";
import { keyError } from "./profileKeys.js";
import type { ProfileKindModule } from "./types.js";

/**
 * An `aws login` profile (`login_session`, AWS CLI 2.32+): console credentials refreshed from the login cache. Tried
 * where botocore tries it: after static keys in the credentials file, before `credential_process`.
 */
export const loginSessionKind: ProfileKindModule = {
  kind: "login",
  keys: ["login_session"],
  matches: (entry) => entry.section.login_session !== undefined,
  build: (entry, { config, init }) => {
    const loginSession = (entry.section.login_session as string).trim();
    if (loginSession === "") {
      throw keyError(
        entry,
        config,
        "login_session",
        "is empty",
        `Run \`aws login --profile ${entry.name}\` to set it.`,
      );
    }
    const source = fromLogin({
      ...init.login,
      loginSession,
      profile: entry.name,
      ...(entry.section.region ? { region: entry.section.region } : {}),
      env: init.env ?? config.env,
      ...(init.logger ? { logger: init.logger } : {}),
      ...(init.clock ? { clock: init.clock } : {}),
      ...(init.clientPlugins ? { clientPlugins: init.clientPlugins } : {}),
    });
    return {
      kind: "login",
      profile: entry.name,
      description: `\`aws login\` console session ${loginSession}`,
      temporary: true,
      source,
      validUntil: () => source.validUntil(),
      status: () => source.status(),
      bindEmitter: (emit) => source.bindEmitter(emit),
      close: () => source.close(),
    };
  },
};
