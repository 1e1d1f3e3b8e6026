/**
 * Your own function as a source: `fromCustom(fn)` and `method: "custom"` take the function itself, not an options
 * object. Here a credential broker on the network; `expiration` may be a Date, an ISO string or epoch ms.
 */
import { fromCustom, refreshable, RefreshableSession } from "aws-refresh-session";

interface BrokerAnswer {
  key: string;
  secret: string;
  token: string;
  expires: string;
}

const broker = process.env.BROKER_URL ?? "http://127.0.0.1:8200/v1/aws/creds/etl";
async function fromBroker() {
  const r = (await (await fetch(broker)).json()) as BrokerAnswer;
  return { accessKeyId: r.key, secretAccessKey: r.secret, sessionToken: r.token, expiration: r.expires };
}

const session = new RefreshableSession({ method: "custom", source: fromBroker });
console.log(`session: ${(await session.whoami()).Arn}`);

const credentials = refreshable(fromCustom(fromBroker, { name: "broker" })); // the engine alone
console.log(`engine: ${credentials.sourceName}, expires ${(await credentials()).expiration?.toISOString()}`);

session.close();
credentials.close();
