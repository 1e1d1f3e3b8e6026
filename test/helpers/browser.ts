import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { CHROMIUM } from "./interop.js";

/** A headless chromium with a fresh profile, launched the way this closed network lets it run. */
export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Debian's chromium headless with a fresh `--user-data-dir` (playwright's persistent context). Without the
 * background-networking flags chromium's own connections are refused on this network and slow every page down.
 */
export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** What the browser showed once it came back to the loopback redirect. */
export interface BrowserOutcome {
  /** The URL it ended on (the loopback callback). */
  url: string;
  title: string;
  text: string;
}

/**
 * What a user does in the browser: opens the authorization URL, clicks Allow (or Deny) on the emulator's approval
 * page, and waits for the page the loopback listener answers with.
 */
export async function decideInChromium(
  browser: Chromium,
  authorizationUrl: string,
  button: "Allow" | "Deny",
): Promise<BrowserOutcome> {
  const page = await browser.context.newPage();
  try {
    await page.goto(authorizationUrl, { timeout: 30_000 });
    await page.getByRole("button", { name: button }).click({ timeout: 30_000 });
    await page.waitForURL(/\/oauth\/callback\?/, { timeout: 30_000 });
    await page.waitForLoadState("load", { timeout: 30_000 });
    return { url: page.url(), title: await page.title(), text: (await page.textContent("body")) ?? "" };
  } finally {
    await page.close();
  }
}

/**
 * The same without a browser, for tests that do not need one: the approval page is fetched, its form posted, and
 * the redirect followed to the loopback listener. Returns the listener's answer.
 */
export async function decideWithFetch(
  authorizationUrl: string,
  action: "allow" | "deny",
): Promise<{ status: number; location: string; body: string }> {
  const pageRes = await fetch(authorizationUrl, { redirect: "manual" });
  const html = await pageRes.text();
  const id = /name="request" value="([0-9a-f]+)"/.exec(html)?.[1];
  if (pageRes.status !== 200 || !id) throw new Error(`the approval page answered ${pageRes.status}: ${html}`);
  const decided = await fetch(new URL("/authorize", authorizationUrl), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ request: id, action }),
  });
  const location = decided.headers.get("location");
  if (decided.status !== 302 || !location) throw new Error(`the decision answered ${decided.status}`);
  const back = await fetch(location);
  return { status: back.status, location, body: await back.text() };
}

/** Waits (with a deadline) for a BROWSER script to have written the URL it was given to `file`. */
export async function urlHandedTo(file: string, timeoutMs = 30_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      const text = readFileSync(file, "utf8");
      if (text.endsWith("\n")) return text.trim();
    }
    if (Date.now() > until) throw new Error(`no URL was handed to the browser (${file}) within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
