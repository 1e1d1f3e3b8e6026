/**
 * ExpiredToken recovery: a request AWS refuses because its token died early (revoked, a clock that drifted, a
 * request that waited in a queue) is replayed once with a fresh credential. Every `session.client()` has it.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { RefreshableSession } from "aws-refresh-session";

const session = new RefreshableSession({ method: "profile", profile: "etl", recovery: { maxReplays: 1 } });
session.on("recovered", (e) => console.log(`${e.operation}: ${e.code}, replayed with ${e.accessKeyId}`));
session.on("recovery-failed", (e) => console.warn(`${e.operation}: ${e.code} reached the caller (${e.reason})`));

const s3 = session.client(S3Client);
const object = await s3.send(new GetObjectCommand({ Bucket: "acme-etl-data", Key: "2026/05/01/part-0.csv" }));
console.log(`got ${object.ContentLength} bytes; recoveries=${session.metrics().recoveries}`);
session.close();
