/** The package version, set at build time (see tsup.config.ts); `0.0.0-dev` when run from source. */
declare const __AWS_REFRESH_VERSION__: string | undefined;

/**
 * What `aws-refresh --version` prints.
 *
 * @example
 * ```ts
 * process.stdout.write(`${VERSION}\n`);
 * ```
 */
export const VERSION: string = typeof __AWS_REFRESH_VERSION__ === "string" ? __AWS_REFRESH_VERSION__ : "0.0.0-dev";
