import { spawn } from "node:child_process";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runEmulate } from "../src/cli/emulate.js";
import { runLogin } from "../src/cli/login.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { tokenPathFor } from "../src/sso/login.js";
import type { EmulatorSso } from "../src/testing.js";
import { actOnNotification, ssoWorld, type SsoWorld } from "./helpers/sso.js";
import { ensureBuilt } from "./helpers/cli.js";
import { waitForFile } from "./helpers/wait.js";

const root = resolve(__dirname, "..");
const cli = join(root, "dist/cli.js");

beforeAll(ensureBuilt, 120_000);

let world: SsoWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function runCli(
  w: SsoWorld,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...w.env, ...extraEnv } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("aws-refresh login", () => {
  it("runs the device flow, tells the notify command the URL and code, and writes the cache with the login time", async () => {
    world = await ssoWorld();
    const w = world;
    const notified = join(w.home, "notified.env");
    const pending = runCli(w, [
      "login",
      "--profile",
      "dev",
      "--no-browser",
      "--json",
      "--notify",
      `env | grep '^AWS_REFRESH_SSO_' > '${notified}'`,
    ]);
    const env = await actOnNotification(notified, "approve");
    const out = await pending;
    expect(out.code, out.stderr).toBe(0);
    expect(env).toMatchObject({
      AWS_REFRESH_SSO_PROFILE: "dev",
      AWS_REFRESH_SSO_SESSION: "corp",
      AWS_REFRESH_SSO_REASON: "no-token",
    });
    expect(out.stderr).toContain(env.AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE);
    expect(out.stderr).toContain(env.AWS_REFRESH_SSO_USER_CODE);
    const result = JSON.parse(out.stdout) as Record<string, unknown>;
    const path = tokenPathFor(await loadSsoConfig({ profile: "dev" }));
    expect(result).toMatchObject({ profile: "dev", ssoSession: "corp", cacheFile: path, refreshable: true });
    expect(result.sessionEndBasis).toMatch(/recorded by aws-refresh/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const token = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
    for (const secret of [token.accessToken, token.refreshToken, token.clientSecret]) {
      expect(out.stdout + out.stderr + readFileSync(notified, "utf8")).not.toContain(secret);
    }
    // A second login (by sso-session name) reuses the cached client registration, as the AWS CLI does.
    const again = runCli(w, ["login", "--sso-session", "corp", "--no-browser", "--notify", `env > '${notified}.2'`]);
    await actOnNotification(`${notified}.2`, "approve");
    const second = await again;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('Logged in: sso-session "corp"');
    expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(1);
    expect(JSON.parse(readFileSync(path, "utf8")).accessToken).not.toBe(token.accessToken);
  }, 90_000);

  it("--use-device-code opens the device flow's verification page with BROWSER when one is available", async () => {
    world = await ssoWorld();
    const w = world;
    const opened = join(w.home, "opened.txt");
    const browser = join(w.home, "browser.sh");
    writeFileSync(browser, `#!/bin/sh\necho "$1" > '${opened}'\n`);
    chmodSync(browser, 0o755);
    const pending = runCli(w, ["login", "--profile", "dev", "--use-device-code", "--json"], { BROWSER: browser });
    // The shell creates the file, then echo writes the line: wait for the line, not for the file.
    const url = (await waitForFile(opened, { timeoutMs: 20_000, what: "the browser to be given the URL" })).trim();
    expect(url).toMatch(/\/device\?user_code=[A-Z]{4}-[A-Z]{4}$/);
    expect(w.oidc.approve(new URL(url).searchParams.get("user_code")!)).toBe(true);
    const out = await pending;
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain("A browser was opened");
    expect(JSON.parse(out.stdout)).toMatchObject({ flow: "device-code" });
    expect(w.oidc.grants("urn:ietf:params:oauth:grant-type:device_code")).toBe(1);
    expect(w.oidc.grants("authorization_code")).toBe(0);
  }, 90_000);

  it("headless runs keep the device flow: --notify even with a browser, no display, a BROWSER that will not start", async () => {
    world = await ssoWorld();
    const w = world;
    const opened = join(w.home, "opened.txt");
    const browser = join(w.home, "browser.sh");
    writeFileSync(browser, `#!/bin/sh\necho "$1" > '${opened}'\n`);
    chmodSync(browser, 0o755);
    w.approveAll(20);
    const DEVICE = "urn:ietf:params:oauth:grant-type:device_code";
    // --notify: a headless job; the device code goes to the notify command, whatever browser there is.
    const notified = await runCli(w, ["login", "--profile", "dev", "--json", "--notify", "true"], { BROWSER: browser });
    expect(notified.code, notified.stderr).toBe(0);
    expect(JSON.parse(notified.stdout)).toMatchObject({ flow: "device-code" });
    // The device page is shown here too, by a browser started in the background: the login may be approved and done
    // before the browser has written, so wait for what it writes.
    expect(await waitForFile(opened, { what: "the page the browser was given" })).toMatch(/\/device\?user_code=/);
    // No BROWSER and no display (w.env has neither): nothing could show the page, so no PKCE is tried.
    const bare = await runCli(w, ["login", "--profile", "dev", "--json"]);
    expect(bare.code, bare.stderr).toBe(0);
    expect(JSON.parse(bare.stdout)).toMatchObject({ flow: "device-code" });
    expect(w.emu.calls("sso-oidc:Authorize")).toBe(0);
    // A BROWSER that cannot be started: the browser login gives way to the device flow, saying so.
    const broken = await runCli(w, ["login", "--profile", "dev", "--json"], {
      BROWSER: join(w.home, "no-such-browser"),
    });
    expect(broken.code, broken.stderr).toBe(0);
    expect(broken.stderr).toContain("No browser could be opened here; logging in with the device code flow instead");
    expect(JSON.parse(broken.stdout)).toMatchObject({ flow: "device-code" });
    expect(w.oidc.grants(DEVICE)).toBe(3);
    expect(w.oidc.grants("authorization_code")).toBe(0);
    expect(w.emu.calls("sso-oidc:Authorize")).toBe(0);
    // A legacy profile logs in with the device code, as the AWS CLI does, even with a browser.
    const legacy = await runCli(w, ["login", "--profile", "legacy", "--json"], { BROWSER: browser });
    expect(legacy.code, legacy.stderr).toBe(0);
    expect(JSON.parse(legacy.stdout)).toMatchObject({ flow: "device-code", refreshable: false });
  }, 60_000);

  it("exits 1 when the login is denied and 2 on bad configuration, saying why", async () => {
    world = await ssoWorld();
    const w = world;
    const notified = join(w.home, "n.env");
    const pending = runCli(w, ["login", "--profile", "dev", "--no-browser", "--notify", `env > '${notified}'`]);
    await actOnNotification(notified, "deny");
    const denied = await pending;
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/login for profile "dev" \(sso-session "corp"\) failed: the request was denied/);
    const ghost = await runCli(w, ["login", "--profile", "ghost", "--no-browser"]);
    expect(ghost.code).toBe(2);
    expect(ghost.stderr).toContain('refers to sso_session "nowhere"');
    const both = await runCli(w, ["login", "--profile", "dev", "--sso-session", "corp"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("cannot be used together");
    const unknown = await runCli(w, ["login", "--sso-session", "nowhere"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('The sso-session "nowhere" is unknown');
  }, 90_000);
});

describe("aws-refresh emulate with SSO", () => {
  it("serves SSO-OIDC and the portal; --sso-auto-approve logs in with no user", async () => {
    world = await ssoWorld();
    const stdout = new PassThrough();
    let printed = "";
    stdout.on("data", (d: Buffer) => (printed += d.toString()));
    let stop!: () => void;
    const until = new Promise<void>((r) => (stop = r));
    let sso: EmulatorSso | undefined;
    let url = "";
    const ready = new Promise<void>((r) => {
      void runEmulate(
        { sso: { autoApprove: true, sessionDurationSeconds: 30, accessTokenLifetimeSeconds: 5 } },
        {
          stdout,
          stderr: new PassThrough(),
          until,
          onReady: (emu, s) => {
            sso = s;
            url = emu.url;
            r();
          },
        },
      );
    });
    await ready;
    try {
      expect(printed).toContain("SSO-OIDC, SSO portal");
      expect(printed).toContain(`${url}/device`);
      const out = new PassThrough();
      let text = "";
      out.on("data", (d: Buffer) => (text += d.toString()));
      process.env.AWS_ENDPOINT_URL = url; // the SDK's clients find the emulator here (ssoWorld restores it)
      const code = await runLogin(
        { profile: "dev", noBrowser: true, json: true },
        { stdout: out, stderr: new PassThrough() },
      );
      expect(code).toBe(0);
      const result = JSON.parse(text) as { accessTokenExpiresAt: string; sessionEndBasis: string };
      expect(Date.parse(result.accessTokenExpiresAt) - Date.now()).toBeLessThanOrEqual(5_000);
      expect(sso?.oidc.sessions()).toHaveLength(1);
    } finally {
      stop();
    }
  });
});
