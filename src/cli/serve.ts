import { rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { Option, type Command } from "commander";
import { describeTime, errorMessage } from "../errors.js";
import { SHADOWING_ENV_VARS } from "../server/childEnvironment.js";
import {
  DEFAULT_SERVER_ADVISORY_MS,
  DEFAULT_SERVER_MANDATORY_MS,
  startCredentialServer,
  type CredentialServer,
} from "../server/credentialServer.js";
import { writeSecretFile } from "../server/secretFile.js";
import { generateToken, loadOrCreateTokenFile } from "../server/token.js";
import type { RegisterCommand } from "./commands.js";
import { announceSsoLogins, stderrLogger } from "./exec.js";
import { resolveSource, type ResolvedSource, type SourceInput } from "./profile.js";
import { addSourceOptions, sourceInputFrom, type SourceFlags } from "./sourceOptions.js";

/** Placeholder in `--env-file` replaced by the profile name (required when serving several profiles). */
export const PROFILE_PLACEHOLDER = "{profile}";

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
  const names = input.sources.map((s) => s.profile);
  if (names.some((n) => !n)) throw new TypeError("every source served needs a `--profile`");
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
    for (const source of input.sources) {
      const r = await resolveSource(source, {
        env: deps.env,
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

function port(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n > 65535) throw new Error(`--port must be an integer from 0 to 65535, got ${v}`);
  return n;
}

interface ServeFlags extends SourceFlags {
  port?: number;
  host?: string;
  tokenFile?: string;
  envFile?: string;
  /** Alias of `envFile`, for `node dist/cli.js`, where Node.js 20 itself takes `--env-file`. */
  envOut?: string;
  lazy?: boolean;
  quiet?: boolean;
  json?: boolean;
}

/** Registers `aws-refresh serve`. */
export const registerServe: RegisterCommand = (program: Command, setExitCode) => {
  const cmd = program
    .command("serve")
    .summary("serve several profiles' always-fresh credentials to other programs")
    .description(
      "Run a long-lived credential server on 127.0.0.1 for one or more profiles, each at /profiles/<name> with its " +
        "own engine refreshing in the background. Any program (any AWS SDK, the AWS CLI, Terraform, a Docker container " +
        "on the host network) gets credentials by setting AWS_CONTAINER_CREDENTIALS_FULL_URI to a profile's URL and " +
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to the token file (a random 256-bit token, mode 0600, kept across " +
        "restarts when --token-file or --port is given). Prints those lines on stdout (and writes them to " +
        "--env-file). GET /healthz answers ok/unhealthy (details with the token); GET /metrics is Prometheus text " +
        "(seconds to expiry, refreshes and failures per profile; send the token as Authorization or Bearer). Shuts " +
        "down gracefully on SIGTERM or SIGINT.\n\n" +
        "Examples:\n" +
        "  aws-refresh serve --profile ml --profile etl --port 9911\n" +
        "  aws-refresh serve --profile ml --port 9911 --token-file ~/.aws/aws-refresh/ml.token --env-file ./ml.env",
    );
  addSourceOptions(cmd, { sso: true, manyProfiles: true });
  cmd
    .option("--port <n>", "port to listen on (default: 0, any free port)", port)
    .option("--host <address>", "loopback address to listen on: 127.0.0.1 or ::1 (default: 127.0.0.1)")
    .option(
      "--token-file <path>",
      "where to keep the token, mode 0600, reused if it already holds one (default: ~/.aws/aws-refresh/serve-<port>.token)",
    )
    .option(
      "--env-file <path>",
      `also write the environment lines to this file, mode 0600, KEY=value lines for docker --env-file or \`set -a; . FILE\` ` +
        `(${PROFILE_PLACEHOLDER} in the path is replaced by the profile name; required for several profiles)`,
    )
    .addOption(new Option("--env-out <path>", "same as --env-file").hideHelp())
    .option("--lazy", "do not fetch credentials before serving")
    .option("--quiet", "do not log refreshes on stderr")
    .option("--json", "print the URLs and environment as JSON")
    .action(async (opts: ServeFlags) => {
      let input: ServeInput;
      try {
        const profiles = Array.isArray(opts.profile) ? opts.profile : opts.profile ? [opts.profile] : [];
        input = {
          sources: profiles.map((p) => sourceInputFrom(opts, p)),
          ...(opts.port !== undefined ? { port: opts.port } : {}),
          ...(opts.host !== undefined ? { host: opts.host } : {}),
          ...(opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : {}),
          ...((opts.envFile ?? opts.envOut) !== undefined ? { envFile: (opts.envFile ?? opts.envOut) as string } : {}),
          ...(opts.lazy ? { lazy: true } : {}),
          ...(opts.quiet ? { quiet: true } : {}),
          ...(opts.json ? { json: true } : {}),
        };
      } catch (err) {
        process.stderr.write(`aws-refresh serve: ${errorMessage(err)}\n`);
        setExitCode(2);
        return;
      }
      const until = new Promise((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      setExitCode(await runServe(input, { env: process.env, stdout: process.stdout, stderr: process.stderr, until }));
    });
};
