/**
 * Several profiles from one read of the AWS config files: `loadAwsConfig()` reads and checks them once (duplicate
 * sections refused, as the AWS CLI refuses them), and each `fromProfile({ config })` is set up at once, so a bad
 * profile throws here rather than at the first request.
 */
import { fromProfile, loadAwsConfig, refreshable, RefreshableSession } from "aws-refresh-session";

const config = await loadAwsConfig(); // AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config, credentials
console.log(`read ${config.paths.config}: profiles ${[...config.profiles.keys()].sort().join(", ")}`);

const etl = fromProfile({ profile: "etl", config });
const d = await etl.describe();
console.log(`${d.profile} (${d.kind}): ${d.description}; region ${d.region}`);

const credentials = refreshable(etl);
console.log(`etl expires ${(await credentials()).expiration?.toISOString()}`);

const base = new RefreshableSession({ method: "profile", profile: "base", config });
console.log(`base: ${(await base.describe()).description}`);

credentials.close();
base.close();
