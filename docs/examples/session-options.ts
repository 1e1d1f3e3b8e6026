/**
 * A session with its options spelled out: engine windows and retry, a logger, the events a job usually watches, and
 * a client built by hand from the session's config (it needs the session's plugin for ExpiredToken recovery).
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { RefreshableSession } from "aws-refresh-session";

const session = new RefreshableSession({
  method: "profile",
  profile: "etl",
  region: "us-east-1", // default: AWS_REGION, else the profile's region
  refresh: {
    advisoryMs: 20 * 60_000, // refresh in the background 20 min before expiry (clamped to half the lifetime)
    mandatoryMs: 10 * 60_000, // callers wait for a refresh from 10 min before expiry (clamped to a quarter)
    retryBaseMs: 2_000, // first retry after a failure; doubles up to maxRetryMs, with full jitter
    maxRetryMs: 120_000,
    sourceTimeoutMs: 30_000, // a source call still pending after 30 s counts as failed
  },
  clientCache: { maxSize: 16 },
  logger: console, // the SDK's Logger interface: debug, info, warn, error
});

session.on("refresh", (e) => console.log(`refreshed ${e.source} in ${e.durationMs} ms`));
session.on("refresh-failed", (e) => console.warn(`refresh failed, retry at ${e.nextRetryAt?.toISOString()}`));
session.on("expired", (e) => console.error(`no valid credential since ${e.expiration.toISOString()}`));

const s3 = new S3Client(session.clientConfig({ maxAttempts: 5 }));
s3.middlewareStack.use(session.plugin()); // recovery + shared clock offset, as session.client() adds them

const object = await s3.send(new GetObjectCommand({ Bucket: "acme-etl-data", Key: "2026/05/01/part-0.csv" }));
console.log(`read ${(await object.Body?.transformToString())?.length ?? 0} bytes`);

const m = session.metrics();
console.log(
  `refreshes=${m.refreshes} failures=${m.refreshFailures} advisoryMs=${m.advisoryMs} mandatoryMs=${m.mandatoryMs}`,
);

s3.destroy();
session.close();
