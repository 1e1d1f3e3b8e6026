import { execFile } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatCacheTime } from "../src/sso/cache.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { tokenPathFor } from "../src/sso/login.js";
import { decideInChromium, launchChromium, urlHandedTo, type Chromium } from "./helpers/browser.js";
import { ensureBuilt, runCli, type CliResult } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import { ssoWorld, type SsoWorld } from "./helpers/sso.js";

const chromiumHere = interopAvailable("chromium");
const boto = chromiumHere.ok ? interopAvailable("boto3") : { ok: false, reason: "" };
const exec = promisify(execFile);

let browser: Chromium | undefined;
beforeAll(async () => {
  await ensureBuilt();
  if (chromiumHere.ok) browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
});

let world: SsoWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/**
 * `aws-refresh login …` in a child process whose BROWSER is a script handing the URL to this test (written to a
 * temporary file, then renamed: the test never reads half a line). Returns the URL and the finished run.
 */
function loginWithBrowserHook(w: SsoWorld, args: string[]): { url: Promise<string>; done: Promise<CliResult> } {
  const handed = join(w.home, "browser-url.txt");
  const script = join(w.home, "browser.sh");
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$1" > '${handed}.tmp' && mv '${handed}.tmp' '${handed}'\n`);
  chmodSync(script, 0o755);
  const done = runCli(["login", ...args], { env: { ...w.env, BROWSER: script }, timeoutMs: 90_000 });
  return { url: urlHandedTo(handed, 60_000), done };
}

describe.skipIf(!chromiumHere.ok)("aws-refresh login in a real browser (chromium)", () => {
  it("opens /authorize with BROWSER; Allow in chromium logs in with PKCE and writes the cache with the login time", async () => {
    world = await ssoWorld();
    const w = world;
    const run = loginWithBrowserHook(w, ["--profile", "dev", "--json"]);
    const url = await run.url;
    expect(url.startsWith(`${w.emu.url}/authorize?`)).toBe(true);
    const seen = await decideInChromium(browser as Chromium, url, "Allow");
    const out = await run.done;
    expect(out.code, out.stderr).toBe(0);
    expect(seen.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?code=/);
    expect(seen.title).toBe("Logged in");
    expect(seen.text).toContain('profile "dev" (sso-session "corp")');
    const result = JSON.parse(out.stdout) as Record<string, unknown>;
    const path = tokenPathFor(await loadSsoConfig({ profile: "dev" }));
    expect(result).toMatchObject({ flow: "authorization-code", cacheFile: path, refreshable: true });
    expect(result.sessionEndBasis).toMatch(/recorded by aws-refresh/);
    expect(out.stderr).toContain(url);
    expect(out.stderr).toContain("--use-device-code");
    expect(w.oidc.grants("authorization_code")).toBe(1);
    expect(w.oidc.grants("urn:ietf:params:oauth:grant-type:device_code")).toBe(0);
    const token = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
    for (const secret of [token.accessToken, token.refreshToken, token.clientSecret]) {
      expect(out.stdout + out.stderr + seen.text).not.toContain(secret);
    }
    // `status` reads what the browser login left, as it reads a device login's.
    const status = await runCli(["status", "--profile", "dev", "--json"], { env: w.env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("recorded by aws-refresh");
  }, 120_000);

  it("Deny in chromium: the login exits 1 saying it was denied, and the browser is told the same", async () => {
    world = await ssoWorld();
    const w = world;
    const run = loginWithBrowserHook(w, ["--profile", "dev"]);
    const seen = await decideInChromium(browser as Chromium, await run.url, "Deny");
    const out = await run.done;
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      /login for profile "dev" \(sso-session "corp"\) failed: the request was denied in the browser/,
    );
    expect(seen.url).toContain("error=access_denied");
    expect(seen.title).toBe("Login failed");
    expect(seen.text).toContain("denied in the browser");
    expect(w.emu.calls("sso-oidc:CreateToken")).toBe(0);
  }, 120_000);

  it("a state changed on the way is refused: the code the browser brings back is never exchanged", async () => {
    world = await ssoWorld();
    const w = world;
    const run = loginWithBrowserHook(w, ["--profile", "dev"]);
    const url = new URL(await run.url);
    url.searchParams.set("state", "00000000-0000-4000-8000-000000000000");
    const seen = await decideInChromium(browser as Chromium, url.toString(), "Allow");
    const out = await run.done;
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("with a `state` other than the one this login sent");
    expect(seen.url).toContain("code="); // the emulator did issue one…
    expect(seen.title).toBe("Login refused");
    expect(w.emu.calls("sso-oidc:CreateToken")).toBe(0); // …which was never used
    expect(w.oidc.grants("authorization_code")).toBe(0);
  }, 120_000);
});

describe.skipIf(!chromiumHere.ok || !boto.ok)("a browser login's cache, read by botocore", () => {
  it("boto3's SSO provider uses the token, and refreshes it with the PKCE registration it holds", async () => {
    world = await ssoWorld({ sso: { accessTokenLifetimeSeconds: 3600 } });
    const w = world;
    const run = loginWithBrowserHook(w, ["--profile", "dev"]);
    await decideInChromium(browser as Chromium, await run.url, "Allow");
    const out = await run.done;
    expect(out.code, out.stderr).toBe(0);
    const python = async (): Promise<string> => {
      const r = await exec(
        "python3",
        [
          "-c",
          `import boto3
print(boto3.Session(profile_name="dev").client("sts").get_caller_identity()["Arn"])`,
        ],
        { env: w.env, encoding: "utf8", timeout: 60_000 },
      );
      return r.stdout.trim();
    };
    expect(await python()).toContain("assumed-role/AWSReservedSSO_ReadOnlyAccess_");
    expect(w.oidc.grants("refresh_token")).toBe(0);
    // Ten minutes left: botocore refreshes (its window is 15), with the clientId/secret the browser login cached.
    const path = tokenPathFor(await loadSsoConfig({ profile: "dev" }));
    const token = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
    writeFileSync(path, JSON.stringify({ ...token, expiresAt: formatCacheTime(Date.now() + 600_000) }));
    expect(await python()).toContain("AWSReservedSSO_ReadOnlyAccess_");
    expect(w.oidc.grants("refresh_token")).toBe(1);
    const after = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
    expect(after.accessToken).not.toBe(token.accessToken);
    expect(after.clientId).toBe(token.clientId);
  }, 120_000);
});
