import { redactKeyId } from "../refresh/redact.js";
import { keyError, staticKeysIn } from "./profileKeys.js";
import type { ProfileContext, ProfileEntry, ProfileKindModule, ProfileNode } from "./types.js";

function build(entry: ProfileEntry, ctx: ProfileContext, file: string): ProfileNode {
  // Keys split over the two files still pair up, as the SDKs merge a profile's sections.
  const keys = staticKeysIn(entry.section);
  if (!keys?.accessKeyId || !keys.secretAccessKey) {
    const missing = keys?.accessKeyId ? "aws_secret_access_key" : "aws_access_key_id";
    const present = missing === "aws_access_key_id" ? "aws_secret_access_key" : "aws_access_key_id";
    throw keyError(entry, ctx.config, present, `is set without \`${missing}\``, `Add \`${missing}\` to the profile.`);
  }
  const identity = {
    accessKeyId: keys.accessKeyId,
    secretAccessKey: keys.secretAccessKey,
    ...(keys.sessionToken ? { sessionToken: keys.sessionToken } : {}),
  };
  const name = `static:${entry.name}`;
  return {
    kind: "static",
    profile: entry.name,
    description: `static keys${keys.sessionToken ? " with a session token" : ""} in ${file}`,
    temporary: false,
    source: Object.assign(async () => identity, { sourceName: name }),
    status: async () => [
      {
        key: "profile.staticKeys",
        label: `Profile ${entry.name}: static keys`,
        value: `${redactKeyId(keys.accessKeyId)} in ${file}`,
      },
    ],
  };
}

/** Static keys in the credentials file: after SSO and web identity, before credential_process (as the AWS CLI orders them). */
export const staticCredentialsFileKind: ProfileKindModule = {
  kind: "static",
  keys: ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"],
  matches: (entry) => staticKeysIn(entry.inCredentials) !== undefined,
  build: (entry, ctx) => build(entry, ctx, ctx.config.paths.credentials),
};

/** Static keys in the config file: the last kind the AWS CLI tries, after credential_process. */
export const staticConfigFileKind: ProfileKindModule = {
  kind: "static",
  keys: staticCredentialsFileKind.keys,
  matches: (entry) => staticKeysIn(entry.inConfig) !== undefined,
  build: (entry, ctx) => build(entry, ctx, ctx.config.paths.config),
};
