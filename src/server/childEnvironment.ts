/** Set in the environment of a program run by `aws-refresh exec`; a nested `exec` sees it and refuses. */
export const EXEC_MARKER_ENV = "AWS_REFRESH_EXEC";

/**
 * Variables removed from a child's environment: each one would make the child's SDK take credentials from somewhere
 * else than the credential server (static keys, a profile, another container endpoint or token file, web identity),
 * and never ask the server at all.
 */
export const SHADOWING_ENV_VARS: readonly string[] = Object.freeze([
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SECURITY_TOKEN",
  "AWS_CREDENTIAL_EXPIRATION",
  "AWS_PROFILE",
  "AWS_DEFAULT_PROFILE",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
]);

/** What {@link childEnvironment} puts in. */
export interface ChildEnvironmentInit {
  /** The credential URL: `AWS_CONTAINER_CREDENTIALS_FULL_URI`. */
  url: string;
  /** The bearer token: `AWS_CONTAINER_AUTHORIZATION_TOKEN`. Give `tokenFile` instead to pass a path. */
  token?: string;
  /** A file holding the token: `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`. */
  tokenFile?: string;
  /** Sets `AWS_REGION` and `AWS_DEFAULT_REGION` when given. */
  region?: string;
  /** Value of {@link EXEC_MARKER_ENV}: what the parent serves (a profile name). Default `"1"`. */
  marker?: string;
}

/**
 * The environment for a program that should take its credentials from the credential server: `base` without the
 * {@link SHADOWING_ENV_VARS}, plus the container-credentials variables every AWS SDK and the AWS CLI read, the region
 * when known, and the {@link EXEC_MARKER_ENV} marker.
 *
 * @example
 * ```ts
 * const env = childEnvironment(process.env, { url: server.urlFor("ml"), token: server.token, region: "eu-west-1" });
 * spawn("python", ["flow.py", "run"], { env, stdio: "inherit" });
 * ```
 */
export function childEnvironment(base: NodeJS.ProcessEnv, init: ChildEnvironmentInit): NodeJS.ProcessEnv {
  if (init === null || typeof init !== "object") throw new TypeError("`init` must be an object with `url`");
  if (typeof init.url !== "string" || !/^http:\/\//.test(init.url)) {
    throw new TypeError("`url` must be the credential server's http:// URL");
  }
  if ((init.token === undefined) === (init.tokenFile === undefined)) {
    throw new TypeError("give exactly one of `token` and `tokenFile`");
  }
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of SHADOWING_ENV_VARS) delete env[name];
  env.AWS_CONTAINER_CREDENTIALS_FULL_URI = init.url;
  delete env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  if (init.token !== undefined) env.AWS_CONTAINER_AUTHORIZATION_TOKEN = init.token;
  else env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = init.tokenFile;
  if (init.region) {
    env.AWS_REGION = init.region;
    env.AWS_DEFAULT_REGION = init.region;
  }
  env[EXEC_MARKER_ENV] = init.marker ?? "1";
  return env;
}
