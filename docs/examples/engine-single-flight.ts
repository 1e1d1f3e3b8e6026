/**
 * The engine's contract in a few lines: 500 callers at once make one source call, credentials are refreshed once per
 * lifetime whatever the call rate, and a source that fails while the credential is still valid changes nothing for
 * the callers (static stability).
 */
import { refreshable } from "aws-refresh-session";

let calls = 0;
let failing = false;
const credentials = refreshable(
  async () => {
    calls++;
    if (failing) throw new Error("the broker is down");
    return {
      accessKeyId: `AKIAEXAMPLE${String(calls).padStart(9, "0")}`,
      secretAccessKey: "example-secret",
      sessionToken: "example-token",
      expiration: new Date(Date.now() + 2_000), // 2-second credentials: advisory clamped to 1 s, mandatory to 0.5 s
    };
  },
  { name: "broker" },
);

await Promise.all(Array.from({ length: 500 }, () => credentials()));
console.log(`500 concurrent callers, ${calls} source call`);

failing = true;
await credentials.refresh().catch((err: Error) => console.log(`forced refresh failed: ${err.message}`));
const served = await credentials(); // still the valid credential: the failure is retried in the background
console.log(`still serving ${served.accessKeyId.slice(-4)}; refreshFailures=${credentials.metrics().refreshFailures}`);

failing = false;
await new Promise((r) => setTimeout(r, 2_500)); // the old credential expired meanwhile; the retry got a new one
console.log(`after expiry: serving ${(await credentials()).accessKeyId.slice(-4)}, never an expired one`);
credentials.close();
