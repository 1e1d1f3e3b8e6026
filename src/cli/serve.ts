import { rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { errorMessage } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import { SHADOWING_ENV_VARS } from "../server/childEnvironment.js";
import {
  DEFAULT_SERVER_ADVISORY_MS,
  DEFAULT_SERVER_MANDATORY_MS,
  startCredentialServer,
  type CredentialServer,
} from "../server/credentialServer.js";
import { writeSecretFile } from "../util/secretFile.js";
import { generateToken, loadOrCreateTokenFile } from "../server/token.js";
import { parsePort } from "./numbers.js";
import { runParsed, type CliCommand } from "./runner.js";
import { announceSsoLogins, stderrLogger } from "./output.js";
import { loadAwsConfig } from "../config/awsConfig.js";
import { resolveSource, type ResolvedSource, type SourceInput } from "./profile.js";
import { PROFILE_PLACEHOLDER, sourceInputFrom, type SourceFlags } from "./sourceOptions.js";
import { CERTIFICATE_SOURCE_NAMES } from "./sourceInput.js";

export { PROFILE_PLACEHOLDER } from "./sourceOptions.js";

/** Variables a program's shell must drop to use a served profile (the token file is set, not dropped). */
const UNSET = [
  ...SHADOWING_ENV_VARS.filter((v) => v !== "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/** Input of {@link runServe}. */
export interface ServeInput {
  /** One source per profile served; each must name its `profile`. */
  sources: SourceInput[];
  /** Default 0 (any free port). */
  port?: number;
  /** Loopback address. Default 127.0.0.1. */
  host?: string;
  /** Token file (0600); reused when it already holds a token. Default: `~/.aws/aws-refresh/serve-<port>.token`. */
  tokenFile?: string;
  /** Also write each profile's environment lines here (`{profile}` in the path is replaced). */
  envFile?: string;
  /** Do not fetch credentials before serving. */
  lazy?: boolean;
  /** No log lines for refreshes. */
  quiet?: boolean;
  /** Print the URLs and environment as one JSON object instead of shell lines. */
  json?: boolean;
}

/** What `serve` needs from its surroundings. */
export interface ServeDeps {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Resolves when the daemon should shut down (the CLI: SIGTERM or SIGINT). */
  until: Promise<unknown>;
  /** Called once the server listens and its environment was printed. */
  onReady?: (server: CredentialServer) => void;
}

/** The environment a program needs to use one served profile. */
export function serveEnvironment(
  server: CredentialServer,
  profile: string,
  tokenFile: string,
  region: string | undefined,
): Record<string, string> {
  return {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: server.urlFor(profile),
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
    ...(region ? { AWS_REGION: region, AWS_DEFAULT_REGION: region } : {}),
  };
}

function validate(input: ServeInput): void {
  if (!Array.isArray(input.sources) || input.sources.length === 0) {
    throw new TypeError("`--profile` is required: name at least one profile to serve");
  }
  const names = input.sources.map((s) => (s.certificate ? CERTIFICATE_SOURCE_NAMES[s.certificate.method] : s.profile));
  if (names.some((n) => !n)) throw new TypeError("every source served needs a `--profile` (or certificate flags)");
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new TypeError(`\`--profile ${dup}\` is given twice`);
  if (input.envFile !== undefined && names.length > 1 && !input.envFile.includes(PROFILE_PLACEHOLDER)) {
    throw new TypeError(
      `\`--env-file\` must contain ${PROFILE_PLACEHOLDER} when serving several profiles (one file per profile), ` +
        `e.g. --env-file ./aws-${PROFILE_PLACEHOLDER}.env`,
    );
  }
  if (input.port !== undefined && !(Number.isInteger(input.port) && input.port >= 0 && input.port < 65536)) {
    throw new RangeError(`\`--port\` must be an integer from 0 to 65535, got ${String(input.port)}`);
  }
}

/**
 * Runs a long-lived credential server for several profiles, each at `/profiles/<name>` with its own background-
 * refreshing engine, until `deps.until` resolves; then shuts down gracefully. Prints the environment lines a program
 * needs (and writes them to `envFile`), with the token in a 0600 file for `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
 *
 * @example
 * ```ts
 * const until = new Promise((r) => process.once("SIGTERM", r));
 * await runServe({ sources: [{ profile: "ml" }, { profile: "etl" }], port: 9911 }, { env: process.env, stdout: process.stdout, stderr: process.stderr, until });
 * ```
 */
export async function runServe(input: ServeInput, deps: ServeDeps): Promise<number> {
  const say = (line: string): void => void deps.stderr.write(`aws-refresh serve: ${line}\n`);
  try {
    validate(input);
  } catch (err) {
    say(errorMessage(err));
    return 2;
  }
  let serving = false;
  // A failing first fetch is reported once, below, not also by the engine.
  const logger = stderrLogger(deps.stderr, () => !serving);
  const resolved: ResolvedSource[] = [];
  let server: CredentialServer | undefined;
  let removeTokenFile: string | undefined;
  try {
    // One read of the config files for every profile served.
    const config = await loadAwsConfig({ env: deps.env });
    for (const source of input.sources) {
      const r = await resolveSource(source, {
        env: deps.env,
        config,
        refresh: { advisoryMs: DEFAULT_SERVER_ADVISORY_MS, mandatoryMs: DEFAULT_SERVER_MANDATORY_MS },
        logger,
      });
      resolved.push(r);
      announceSsoLogins(r.session, say, () => !serving, source.loginTimeoutMs);
    }
    if (!input.lazy) {
      for (const r of resolved) {
        try {
          await r.session.credentials();
        } catch (err) {
          say(`profile ${r.name}: ${errorMessage(err)}`);
          return 1;
        }
      }
    }
    // A fixed port has a stable default token file, reused across restarts; a random port gets one for this run.
    const defaultTokenFile = (port: number): string =>
      join(deps.env.HOME || homedir(), ".aws", "aws-refresh", `serve-${port}.token`);
    let tokenFile = input.tokenFile === undefined ? undefined : resolvePath(input.tokenFile);
    let token: string;
    if (tokenFile === undefined && input.port) tokenFile = defaultTokenFile(input.port);
    if (tokenFile !== undefined) {
      const loaded = await loadOrCreateTokenFile(tokenFile);
      token = loaded.token;
      if (loaded.reused && !input.quiet) say(`reusing the token in ${tokenFile}`);
    } else {
      token = generateToken();
    }
    server = await startCredentialServer({
      profiles: Object.fromEntries(resolved.map((r) => [r.name, r.session])),
      token,
      ...(input.port !== undefined ? { port: input.port } : {}),
      ...(input.host !== undefined ? { host: input.host } : {}),
      logger,
    });
    if (tokenFile === undefined) {
      tokenFile = defaultTokenFile(server.port);
      removeTokenFile = tokenFile;
      await writeSecretFile(tokenFile, token);
    }
    const envs = new Map<string, Record<string, string>>();
    for (const r of resolved) envs.set(r.name, serveEnvironment(server, r.name, tokenFile, r.region));
    const envFiles: Record<string, string> = {};
    if (input.envFile !== undefined) {
      for (const [name, env] of envs) {
        const path = resolvePath(input.envFile.split(PROFILE_PLACEHOLDER).join(name));
        await writeSecretFile(
          path,
          Object.entries(env)
            .map(([k, v]) => `${k}=${v}\n`)
            .join(""),
        );
        envFiles[name] = path;
      }
    }
    if (input.json) {
      deps.stdout.write(
        `${JSON.stringify({
          url: server.url,
          tokenFile,
          unset: UNSET,
          profiles: Object.fromEntries(
            resolved.map((r) => [
              r.name,
              { url: server?.urlFor(r.name), env: envs.get(r.name), envFile: envFiles[r.name] ?? null },
            ]),
          ),
        })}\n`,
      );
    } else {
      let text =
        `# aws-refresh serve: ${resolved.length} profile${resolved.length > 1 ? "s" : ""} at ${server.url} ` +
        `(token in ${tokenFile}); metrics at ${server.url}/metrics\n`;
      for (const [name, env] of envs) {
        text += `# profile ${name}${envFiles[name] ? ` (also in ${envFiles[name]})` : ""}\n`;
        text += `unset ${UNSET.join(" ")}\n`;
        text += Object.entries(env)
          .map(([k, v]) => `export ${k}=${v}\n`)
          .join("");
      }
      deps.stdout.write(text);
    }
    if (!input.quiet) {
      for (const r of resolved) {
        r.session.on("refresh", (e) =>
          say(`profile ${r.name}: new credential ${e.accessKeyId}, expires ${describeTime(e.expiration)}`),
        );
      }
      say(`serving ${resolved.map((r) => r.description).join("; ")}. Stop with Ctrl-C or SIGTERM.`);
    }
    serving = true;
    deps.onReady?.(server);
    await deps.until;
    if (!input.quiet) say("shutting down");
    return 0;
  } catch (err) {
    say(errorMessage(err));
    return 1;
  } finally {
    await server?.close();
    for (const r of resolved) r.close();
    if (removeTokenFile) await rm(removeTokenFile, { force: true });
  }
}

interface ServeFlags extends SourceFlags {
  port?: string;
  host?: string;
  tokenFile?: string;
  envFile?: string;
  /** Alias of `envFile`, for `node dist/cli.js`, where Node.js 20 itself takes `--env-file`. */
  envOut?: string;
  lazy?: boolean;
  quiet?: boolean;
  json?: boolean;
}

/** `aws-refresh serve`'s flags to its input; throws naming a bad flag. */
export function serveInput(flags: ServeFlags, terminal = false): ServeInput {
  const profiles = Array.isArray(flags.profile) ? flags.profile : flags.profile ? [flags.profile] : [];
  const envFile = flags.envFile ?? flags.envOut;
  // Certificate flags choose one source of their own (sourceInputFrom refuses them beside `--profile`).
  const certificate = profiles.length === 0 ? sourceInputFrom(flags) : undefined;
  if (!certificate?.certificate && flags.roleArn !== undefined) {
    throw new TypeError(
      "`--role-arn` of serve is IAM Roles Anywhere's (with `--trust-anchor-arn`, `--profile-arn`, `--certificate`): " +
        "to serve a role over a profile, write a role profile (role_arn + source_profile) and serve that",
    );
  }
  const sources = certificate?.certificate ? [certificate] : profiles.map((p) => sourceInputFrom(flags, p));
  // At a terminal, without a notify hook, the person running the server can approve a login in the browser.
  for (const s of sources) if (terminal && s.notify === undefined) s.interactiveLogin = true;
  return {
    sources,
    ...(flags.port !== undefined ? { port: parsePort(flags.port) } : {}),
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(flags.tokenFile !== undefined ? { tokenFile: flags.tokenFile } : {}),
    ...(envFile !== undefined ? { envFile } : {}),
    ...(flags.lazy ? { lazy: true } : {}),
    ...(flags.quiet ? { quiet: true } : {}),
    ...(flags.json ? { json: true } : {}),
  };
}

/** The CLI's entry point for `aws-refresh serve`. */
export const serveCommand: CliCommand = (flags, _args, io) =>
  runParsed(
    "serve",
    io,
    () => serveInput(flags as ServeFlags, process.stdin.isTTY === true),
    (input) => runServe(input, io),
  );
