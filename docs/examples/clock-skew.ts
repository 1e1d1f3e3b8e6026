/**
 * One clock offset to AWS for the whole session, learnt from the `Date` of every answer: expiry is judged in AWS's
 * time, every client signs with it, and presigned URLs carry it.
 */
import { RefreshableSession } from "aws-refresh-session";

const session = new RefreshableSession({ method: "profile", profile: "etl", clockSkew: { thresholdMs: 30_000 } });
session.on("clock-skew", (e) => {
  if (e.exceeded)
    console.warn(`local clock is ${Math.abs(e.offsetMs)} ms ${e.offsetMs > 0 ? "behind" : "ahead of"} AWS`);
});

await session.whoami(); // any answer teaches the offset
const skew = session.metrics().clockSkewMs;
console.log(`AWS's clock minus ours: ${Math.round(skew / 1000)} s`);
session.close();
