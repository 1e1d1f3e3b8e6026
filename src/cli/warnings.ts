import type { LoadedAwsConfig } from "../config/awsConfig.js";
import { formatDuration } from "../util/duration.js";
import { hasCredentials } from "./sourceInput.js";

/** Clock skew against AWS beyond which `exec` and `status` warn (the SDK for JavaScript corrects beyond it too). */
export const SKEW_WARNING_MS = 5 * 60_000;

/** A line about the clock's skew against AWS when it passes {@link SKEW_WARNING_MS}, else undefined. */
export function skewWarning(skewMs: number | undefined): string | undefined {
  if (skewMs === undefined || Math.abs(skewMs) <= SKEW_WARNING_MS) return undefined;
  return (
    `this machine's clock is ${formatDuration(Math.abs(skewMs))} ${skewMs > 0 ? "behind" : "ahead of"} AWS: ` +
    "signatures more than 15 minutes off are refused, and credentials are refreshed at the wrong time"
  );
}

/** A line warning that the `[default]` profile would shadow the server in a child, or undefined. */
export function defaultProfileShadow(config: LoadedAwsConfig): string | undefined {
  if (!hasCredentials(config.profiles.get("default"))) return undefined;
  return (
    "the [default] profile holds credentials, and SDKs and the AWS CLI read it before the credential server: a " +
    "program that uses it gets those credentials, not the ones served. Move them to a named profile."
  );
}
