import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { errorMessage } from "../errors.js";
import type { CallerIdentity, RefreshableSession } from "../session/RefreshableSession.js";

/** What {@link probeIdentity} learnt from one STS GetCallerIdentity call. */
export interface IdentityProbe {
  identity?: CallerIdentity;
  /** Why the call failed, when it did. */
  error?: string;
  /**
   * How far AWS's clock is ahead of this machine's (negative: behind), in ms, from the response's `Date` header and the
   * call's round trip; accurate to about a second (the header has whole seconds). Undefined when no answer came.
   */
  skewMs?: number;
}

/**
 * Calls STS GetCallerIdentity through one of the session's own clients (region: the session's, else us-east-1, as STS
 * is global). That client carries the session's clock-skew observer, so the skew is the session's shared estimate,
 * fed by this answer's `Date` header (even when the call is refused) and by every answer before it.
 */
export async function probeIdentity(session: RefreshableSession, region?: string): Promise<IdentityProbe> {
  const client = session.client(STSClient, { region: region ?? "us-east-1", maxAttempts: 1 });
  const result: IdentityProbe = {};
  let answered: boolean;
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    answered = true;
    if (out.Account && out.Arn && out.UserId)
      result.identity = { Account: out.Account, Arn: out.Arn, UserId: out.UserId };
    else result.error = "STS GetCallerIdentity answered without Account, Arn or UserId";
  } catch (err) {
    answered = (err as { $response?: unknown }).$response !== undefined;
    result.error = errorMessage(err);
  }
  if (answered) result.skewMs = session.metrics().clockSkewMs;
  return result;
}
