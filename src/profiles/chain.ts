import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { refreshable } from "../refresh/refreshable.js";
import type { SessionEnd } from "../types.js";
import type { ProfileContext, ProfileNode } from "./types.js";

/**
 * A profile's credentials as the source of another's (a role's `source_profile`): temporary ones behind an engine of
 * their own, so the role above gets a valid credential without calling their source each time; long-term keys as
 * they are.
 */
export function chainedCredentials(
  base: ProfileNode,
  ctx: ProfileContext,
): { provider: AwsCredentialIdentityProvider; close(): void } {
  if (!base.temporary) return { provider: base.source, close: () => base.close?.() };
  const engine = refreshable(base.source, {
    ...ctx.init.chainRefresh,
    ...(ctx.init.clock ? { clock: ctx.init.clock } : {}),
    ...(ctx.init.logger ? { logger: ctx.init.logger } : {}),
    ...(base.source.sourceName ? { name: base.source.sourceName } : {}),
  });
  return {
    provider: engine,
    close: () => {
      engine.close();
      base.close?.();
    },
  };
}

/** The session end that comes first: the one that bounds how long the chain can give credentials. */
export function earliestEnd(...ends: (SessionEnd | undefined)[]): SessionEnd | undefined {
  let first: SessionEnd | undefined;
  for (const end of ends) if (end && (!first || end.at.getTime() < first.at.getTime())) first = end;
  return first;
}
