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
 * Calls STS GetCallerIdentity with the session's credentials (region: the session's, else us-east-1, as STS is global)
 * and reads the clock skew off the answer's `Date` header, even when the call is refused.
 */
export async function probeIdentity(session: RefreshableSession, region?: string): Promise<IdentityProbe> {
  const client = new STSClient(session.clientConfig({ region: region ?? "us-east-1", maxAttempts: 1 }));
  let date: string | undefined;
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        const out = await next(args);
        date = (out.response as { headers?: Record<string, string> }).headers?.date;
        return out;
      } catch (err) {
        date = (err as { $response?: { headers?: Record<string, string> } }).$response?.headers?.date;
        throw err;
      }
    },
    { step: "deserialize", name: "awsRefreshDateHeader", priority: "high" },
  );
  const t0 = Date.now();
  const result: IdentityProbe = {};
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    if (out.Account && out.Arn && out.UserId)
      result.identity = { Account: out.Account, Arn: out.Arn, UserId: out.UserId };
    else result.error = "STS GetCallerIdentity answered without Account, Arn or UserId";
  } catch (err) {
    result.error = errorMessage(err);
  } finally {
    client.destroy();
  }
  const t1 = Date.now();
  const server = date ? Date.parse(date) : NaN;
  // The header truncates to the second: its true time is half a second later on average.
  if (Number.isFinite(server)) result.skewMs = server + 500 - (t0 + t1) / 2;
  return result;
}
