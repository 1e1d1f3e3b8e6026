/**
 * Every CLI command's flags and help, and where its code is. The help text is here so that `--help` and
 * `--version` load nothing but commander; a command's own module (and the SDK with it) is imported only when that
 * command runs. This file is long because it holds the help of every command; the logic lives in the command files.
 */
import type { Command } from "commander";
import type { CliCommand } from "./runner.js";
import { addSourceOptions, PROFILE_PLACEHOLDER } from "./sourceOptions.js";

/** One command: how to declare it on the program, and how to load its entry point. */
export interface CommandSpec {
  name: string;
  /** Declares the command's arguments, options and help on `cmd`. */
  declare(cmd: Command): void;
  /** Imports the command's module and returns its entry point. */
  load(): Promise<CliCommand>;
}

export const commands: CommandSpec[] = [
  {
    name: "exec",
    declare: (cmd) => {
      cmd
        .usage("[options] -- COMMAND [ARGS...]")
        .summary("run a command with always-fresh AWS credentials")
        .description(
          "Run COMMAND with AWS credentials that stay valid for as long as it runs, in any language. A credential " +
            "server on 127.0.0.1 (random port, random 256-bit bearer token) serves the chosen source, refreshing it in " +
            "the background; the command gets AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN, " +
            "which every AWS SDK and the AWS CLI read, and loses AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, " +
            "AWS_SESSION_TOKEN, AWS_PROFILE and AWS_DEFAULT_PROFILE (which would stop it from asking). AWS_REGION and " +
            "AWS_DEFAULT_REGION are set when known. Credentials are fetched before the command starts, so a bad profile " +
            "fails at once. SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR2 are forwarded. Exit status: the command's, " +
            "128+N when signal N killed it, 125 when exec failed, 126 when the command cannot run, 127 when it is not " +
            "found.\n\n" +
            "Examples:\n" +
            "  aws-refresh exec --profile ml -- python flow.py run\n" +
            "  aws-refresh exec --profile ml --require 30h -- python train.py\n" +
            "  aws-refresh exec --role-arn arn:aws:iam::123456789012:role/deploy -- terraform apply\n" +
            "  aws-refresh exec --certificate host.pem --private-key host.key \\\n" +
            "    --trust-anchor-arn ARN --profile-arn ARN --role-arn ROLE -- python flow.py\n" +
            "  aws-refresh exec --iot-endpoint ENDPOINT --role-alias uploader \\\n" +
            "    --certificate device.pem --private-key device.key -- ./upload.sh",
        )
        .argument("<command...>", "the command to run and its arguments (after --)")
        .passThroughOptions();
      addSourceOptions(cmd, { role: true, sso: true });
      cmd
        .option("--require <duration>", "fail unless the source can keep credentials valid this long, e.g. 30h")
        .option("--lazy", "do not fetch credentials before the command starts (first request does)")
        .option("--quiet", "no start message on stderr (warnings still show)");
    },
    load: async () => (await import("./exec.js")).execCommand,
  },
  {
    name: "serve",
    declare: (cmd) => {
      cmd
        .summary("serve several profiles' always-fresh credentials to other programs")
        .description(
          "Run a long-lived credential server on 127.0.0.1 for one or more profiles, each at /profiles/<name> with " +
            "its own engine refreshing in the background. Any program (any AWS SDK, the AWS CLI, Terraform, a Docker " +
            "container on the host network) gets credentials by setting AWS_CONTAINER_CREDENTIALS_FULL_URI to a " +
            "profile's URL and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to the token file (a random 256-bit token, mode " +
            "0600, kept across restarts when --token-file or --port is given). Prints those lines on stdout (and " +
            "writes them to --env-file). GET /healthz answers ok/unhealthy (details with the token); GET /metrics is " +
            "Prometheus text (seconds to expiry, refreshes and failures per profile; send the token as Authorization " +
            "or Bearer). Shuts down gracefully on SIGTERM or SIGINT.\n\n" +
            "Examples:\n" +
            "  aws-refresh serve --profile ml --profile etl --port 9911\n" +
            "  aws-refresh serve --profile ml --port 9911 --token-file ~/.aws/aws-refresh/ml.token --env-file ./ml.env\n" +
            "  aws-refresh serve --port 9911 --certificate host.pem --private-key host.key \\\n" +
            "    --trust-anchor-arn ARN --profile-arn ARN --role-arn ROLE\n" +
            "    (served at /profiles/roles-anywhere; AWS IoT at /profiles/iot)\n\n" +
            "Through `node dist/cli.js` on Node.js 20, which takes --env-file for itself, write --env-out instead.",
        );
      addSourceOptions(cmd, { sso: true, manyProfiles: true });
      cmd
        .option("--port <n>", "port to listen on, 0 to 65535 (default: 0, any free port)")
        .option("--host <address>", "loopback address to listen on: 127.0.0.1 or ::1 (default: 127.0.0.1)")
        .option(
          "--token-file <path>",
          "where to keep the token, mode 0600, reused if it already holds one (default: ~/.aws/aws-refresh/serve-<port>.token)",
        )
        .option(
          "--env-file <path>",
          "also write the environment lines to this file, mode 0600, KEY=value lines for docker --env-file or " +
            `\`set -a; . FILE\` (${PROFILE_PLACEHOLDER} in the path is replaced by the profile name; required for ` +
            "several profiles)",
        )
        .option("--env-out <path>", "the same as --env-file (for `node dist/cli.js` on Node.js 20)")
        .option("--lazy", "do not fetch credentials before serving")
        .option("--quiet", "do not log refreshes on stderr")
        .option("--json", "print the URLs and environment as JSON");
    },
    load: async () => (await import("./serve.js")).serveCommand,
  },
  {
    name: "credential-process",
    declare: (cmd) => {
      cmd
        .summary("print credentials for credential_process in an AWS config profile")
        .description(
          "Print a credential in the credential_process format (JSON: Version 1, AccessKeyId, SecretAccessKey, " +
            "SessionToken, Expiration), for use in ~/.aws/config:\n\n" +
            "  [profile ml]\n" +
            "  credential_process = aws-refresh credential-process --profile ml-base\n\n" +
            "where ml-base is any profile the AWS CLI understands (a role, SSO, web identity…), or, instead of " +
            "--profile, a certificate: IAM Roles Anywhere's flags as aws_signing_helper spells them (--certificate, " +
            "--private-key, --trust-anchor-arn, --profile-arn, --role-arn…) or AWS IoT's (--iot-endpoint, --role-alias, " +
            "--certificate, --private-key). Temporary credentials " +
            "are cached per source in --cache-dir (files mode 0600, written atomically, one fetch at a time across " +
            "processes) and reused while more than --min-ttl is left, so many short invocations (the AWS CLI, " +
            "Terraform providers, scripts) share one STS call. Long-term keys are printed, never cached. Errors go to " +
            "stderr, exit 1; bad flags exit 2.",
        );
      addSourceOptions(cmd, { role: true, sso: true });
      cmd
        .option("--cache-dir <dir>", "where cached credentials live (default: ~/.aws/aws-refresh/cache)")
        .option(
          "--min-ttl <duration>",
          "reuse a cached credential only while it has more than this left (default: 20m, above botocore's 15-minute refresh window)",
        )
        .option("--no-cache", "always fetch; never read or write the cache");
    },
    load: async () => (await import("./credential-process.js")).credentialProcessCommand,
  },
  {
    name: "status",
    declare: (cmd) => {
      cmd
        .summary("check a profile: identity, expiry, clock skew, shadowing variables, what to fix")
        .description(
          "Check a source of credentials and say what to fix: the profile's source, the identity (STS " +
            "GetCallerIdentity), the credential's expiry and time left, the clock's skew against AWS (from the " +
            "answer's Date header), when the underlying session (SSO, MFA) ends, environment variables that would " +
            "shadow the profile, and facts the source reports about itself (e.g. an SSO token's expiry). Exit status " +
            "0 when nothing is wrong, 1 when a problem was found, 2 on bad options.\n\n" +
            "Examples:\n" +
            "  aws-refresh status --profile ml\n" +
            "  aws-refresh status --profile ml --require 30h --json\n" +
            "  aws-refresh status --certificate host.pem --private-key host.key \\\n" +
            "    --trust-anchor-arn ARN --profile-arn ARN --role-arn ROLE --json",
        );
      addSourceOptions(cmd, { role: true, sso: true });
      cmd
        .option("--require <duration>", "also check that the source can keep credentials valid this long, e.g. 30h")
        .option("--json", "print the report as JSON");
    },
    load: async () => (await import("./status.js")).statusCommand,
  },
  {
    name: "login",
    declare: (cmd) => {
      cmd
        .summary("log in to IAM Identity Center (SSO) and cache the token")
        .description(
          "Log in to IAM Identity Center (SSO) and cache the token where the AWS CLI and the SDKs find it " +
            "(~/.aws/sso/cache), recording the login time so aws-refresh can predict the session's end. As `aws sso " +
            "login`, it opens a browser on this machine and logs in with the authorization code flow with PKCE; " +
            "--use-device-code, headless runs (--notify, --no-browser, no browser here) and legacy profiles use the " +
            "device code flow: a URL and code to approve from any device. Exit status 0 logged in, 1 the login " +
            "failed, 2 bad configuration.\n\n" +
            "Examples:\n" +
            "  aws-refresh login --profile dev\n" +
            "  aws-refresh login --profile dev --use-device-code\n" +
            "  aws-refresh login --sso-session corp --no-browser --notify 'ntfy publish me \"$AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE\"'",
        )
        .option("--profile <name>", "SSO profile to log in (default: AWS_PROFILE, else default)")
        .option("--sso-session <name>", "log in an [sso-session NAME] of the config file directly")
        .option(
          "--use-device-code",
          "log in with the device code flow (approve from any device) instead of the browser flow",
        )
        .option("--no-browser", "do not open a browser: print the device code flow's URL and code")
        .option(
          "--notify <command>",
          "shell command told the device code's URL and code in AWS_REFRESH_SSO_* environment variables",
        )
        .option("--json", "print the result as JSON");
    },
    load: async () => (await import("./login.js")).loginCommand,
  },
  {
    name: "emulate",
    declare: (cmd) => {
      cmd
        .summary("run a local STS / S3 / SSO endpoint with short-lived credentials")
        .description(
          "Run a local STS + S3 + SSO (SSO-OIDC and access portal) endpoint that issues short-lived credentials and " +
            "SSO tokens, checks every SigV4 signature and answers with AWS's own errors, so you can prove a job " +
            "survives credential rotation and SSO session ends in seconds. Also IAM Roles Anywhere (same port) and " +
            "AWS IoT's credentials provider (HTTPS with client certificates, its own port), with a test CA it makes " +
            "and certificates it writes. Prints the environment to point an SDK or the AWS CLI at it, and the " +
            "certificate flags to point aws-refresh at Roles Anywhere and IoT. It listens on loopback only.\n\n" +
            "Example:\n" +
            "  aws-refresh emulate --lifetime 30s --port 4566",
        )
        .option("--port <n>", "port to listen on, 0 to 65535 (default: 0, any free port)")
        .option("--host <address>", "loopback address to listen on: 127.0.0.1 or ::1 (default: 127.0.0.1)")
        .option("--lifetime <duration>", "lifetime of the credentials it issues, e.g. 30s or 1h (default: 1h)")
        .option("--clock-offset <ms>", "run the server clock this many ms ahead (negative: behind) (default: 0)")
        .option("--region <region>", "region it reports (default: us-east-1)")
        .option(
          "--sso-session-duration <duration>",
          "IAM Identity Center session duration, e.g. 8h or 30s (default: 8h)",
        )
        .option("--sso-token-lifetime <duration>", "lifetime of SSO access tokens, e.g. 1h or 5s (default: 1h)")
        .option(
          "--sso-auto-approve",
          "approve every SSO login at once: device codes and browser (/authorize) logins; no user needed",
        )
        .option(
          "--quota <operation=rate[:burst]>",
          "enforce a request quota answered with the service's own throttling error, e.g. sts:AssumeRole=25 " +
            "(repeatable; default: none)",
          (value: string, previous: string[] = []) => [...previous, value],
        )
        .optionsGroup("IAM Roles Anywhere and AWS IoT (certificate sources):")
        .option(
          "--certs-dir <dir>",
          "where to write the test CA, a Roles Anywhere host certificate and an IoT device certificate with their " +
            "keys, mode 0600 (default: a new temporary directory, removed when the emulator stops)",
        )
        .option(
          "--trust-ca <path>",
          "also trust the CA certificates in this PEM file, as Roles Anywhere trust anchor and IoT device CA, for " +
            "certificates of your own (repeatable; default: only the test CA)",
          (value: string, previous: string[] = []) => [...previous, value],
        )
        .option("--iot-port <n>", "port of the IoT endpoint (HTTPS), 0 to 65535 (default: 0, any free port)")
        .option("--no-certificates", "do not start the Roles Anywhere and IoT endpoints (no key generation)")
        .optionsGroup("Options:")
        .option("--json", "print the URL and environment as JSON");
    },
    load: async () => (await import("./emulate.js")).emulateCommand,
  },
  {
    name: "demo",
    declare: (cmd) => {
      cmd
        .summary("watch a job survive credentials that expire every few seconds")
        .description(
          "Run a short S3 job against an embedded emulator whose credentials expire every few seconds, and show " +
            "that a RefreshableSession keeps every request signed with a valid credential. Exit status 0 when no " +
            "request failed.",
        )
        .option("--duration <duration>", "how long the job runs, e.g. 30s or 2m (default: 30s)")
        .option("--concurrency <n>", "request loops running at once, 1 to 1024 (default: 16)")
        .option("--lifetime <duration>", "lifetime of the credentials the emulator issues, e.g. 5s (default: 5s)");
    },
    load: async () => (await import("./demo.js")).demoCommand,
  },
];
