import { RefreshSessionError } from "../errors.js";
import { fromAssumeRole, type AssumeRoleParams, type MfaOptions } from "../sources/sts.js";
import type { MfaSessionEnd, SourceStatusItem } from "../types.js";
import { chainedCredentials, earliestEnd } from "./chain.js";
import { credentialSourceNode } from "./credentialSource.js";
import { keyError, roleArnKey, secondsKey, sessionNameKey, staticKeysIn } from "./profileKeys.js";
import type { ProfileContext, ProfileEntry, ProfileKindModule, ProfileNode } from "./types.js";

/** The base credentials of a role profile: its `source_profile`, its own keys, or its `credential_source`. */
function baseOf(entry: ProfileEntry, ctx: ProfileContext): ProfileNode {
  const { config } = ctx;
  const s = entry.section;
  if (s.source_profile !== undefined && s.credential_source !== undefined) {
    throw keyError(
      entry,
      config,
      "credential_source",
      "is set together with `source_profile`",
      "Keep one of them: source_profile names a profile, credential_source the machine's own credentials.",
    );
  }
  if (s.credential_source !== undefined) return credentialSourceNode(entry, config, ctx.init);
  if (s.source_profile === undefined) {
    throw keyError(
      entry,
      config,
      "role_arn",
      "has no credentials to assume it with",
      "Add `source_profile = NAME` (a profile with credentials) or `credential_source = Environment | " +
        "Ec2InstanceMetadata | EcsContainer`.",
    );
  }
  const chain = [...entry.chain, entry.name];
  if (s.source_profile === entry.name) {
    // A profile may source its own credentials if it has static keys, as the AWS CLI allows; they are then resolved
    // as any source profile with keys is (botocore's profile providers: a credential_process, say, comes first).
    if (!staticKeysIn(entry.section)) {
      throw keyError(
        entry,
        config,
        "source_profile",
        "names the profile itself, which holds no aws_access_key_id / aws_secret_access_key",
        "Point source_profile at the profile that holds the credentials.",
      );
    }
    return ctx.sourceProfile(entry.name, chain);
  }
  if (chain.includes(s.source_profile)) {
    throw new RefreshSessionError(
      "CONFIG_INVALID",
      `Profile "${entry.name}": its source_profile chain loops: ${[...chain, s.source_profile].join(" → ")}. ` +
        `Break the loop in ${config.paths.config}: one of these profiles must hold credentials of its own.`,
      { profile: entry.name },
    );
  }
  return ctx.sourceProfile(s.source_profile, chain);
}

function build(entry: ProfileEntry, ctx: ProfileContext): ProfileNode {
  const { config, init } = ctx;
  const s = entry.section;
  const roleArn = roleArnKey(entry, config);
  const durationSeconds = secondsKey(entry, config, "duration_seconds", 900, 43_200);
  const roleSessionName = sessionNameKey(entry, config);
  // `mfa.serialNumber` (the CLI's --mfa-serial) stands for the top profile's device; deeper roles keep their own.
  const serial = (entry.chain.length === 0 ? init.mfa?.serialNumber : undefined) ?? s.mfa_serial;
  if (serial !== undefined && init.mfa?.tokenCode === undefined) {
    throw keyError(
      entry,
      config,
      "mfa_serial",
      "needs an MFA code at every new MFA session, and none can be asked for",
      "Pass `mfa: { tokenCode }` (a function or a command printing the code), or --mfa-command on the command line.",
    );
  }
  const base = baseOf(entry, ctx);
  const chained = chainedCredentials(base, ctx);
  const assumeRole: AssumeRoleParams = { RoleArn: roleArn };
  if (roleSessionName !== undefined) assumeRole.RoleSessionName = roleSessionName;
  if (s.external_id !== undefined) assumeRole.ExternalId = s.external_id;
  if (durationSeconds !== undefined) assumeRole.DurationSeconds = durationSeconds;
  const mfa: MfaOptions | undefined =
    serial !== undefined && init.mfa?.tokenCode !== undefined
      ? {
          serialNumber: serial,
          tokenCode: init.mfa.tokenCode,
          ...(init.mfa.sessionDurationSeconds !== undefined
            ? { sessionDurationSeconds: init.mfa.sessionDurationSeconds }
            : {}),
          ...(init.mfa.timeoutMs !== undefined ? { timeoutMs: init.mfa.timeoutMs } : {}),
        }
      : undefined;
  let sts;
  try {
    sts = fromAssumeRole({
      assumeRole,
      sourceCredentials: chained.provider,
      ...(mfa ? { mfa } : {}),
      ...(s.region ? { region: s.region } : {}),
      stsClientConfig: { ...init.stsClientConfig, ...(s.endpoint_url ? { endpoint: s.endpoint_url } : {}) },
      ...(init.clientPlugins ? { clientPlugins: init.clientPlugins } : {}),
      ...(init.clock ? { clock: init.clock } : {}),
    });
  } catch (err) {
    chained.close();
    throw err;
  }
  const mfaEnd = (): MfaSessionEnd | undefined => {
    const at = sts.mfaSessionExpiration();
    return at && serial
      ? {
          source: "mfa",
          at,
          basis: `the MFA session (GetSessionToken) of profile ${entry.name} ends; a new MFA code is needed then`,
          serialNumber: serial,
        }
      : undefined;
  };
  const baseText =
    base.profile !== undefined && base.profile !== entry.name
      ? `profile ${base.profile} (${base.description})`
      : base.description;
  return {
    kind: "assume-role",
    profile: entry.name,
    description: `assume ${roleArn}${serial ? ` with MFA ${serial}` : ""} from ${baseText}`,
    temporary: true,
    source: sts,
    validUntil: async () => earliestEnd(mfaEnd(), await base.validUntil?.()),
    status: async () => {
      const items: SourceStatusItem[] = [{ key: "profile.role", label: `Profile ${entry.name}: role`, value: roleArn }];
      const end = mfaEnd();
      if (end) items.push({ key: "mfa.sessionExpiresAt", label: "MFA session ends", value: end.at.toISOString() });
      return [...items, ...((await base.status?.()) ?? [])];
    },
    bindEmitter: (emit) => base.bindEmitter?.(emit),
    close: () => {
      sts.close();
      chained.close();
    },
  };
}

/**
 * A role to assume (`role_arn`) from a `source_profile` (a chain of any depth, loops refused), the profile's own
 * static keys, or a `credential_source`; with `mfa_serial`, `duration_seconds`, `external_id` and
 * `role_session_name`. Not for `web_identity_token_file` profiles, which are a kind of their own.
 */
export const assumeRoleKind: ProfileKindModule = {
  kind: "assume-role",
  keys: ["role_arn", "source_profile", "credential_source"],
  matches: (entry) => entry.section.role_arn !== undefined && entry.section.web_identity_token_file === undefined,
  build,
};
