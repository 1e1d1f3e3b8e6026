import { spawn } from "node:child_process";

/**
 * The way to open a URL here: `BROWSER` (the program, given the URL as its one argument, as Python's `webbrowser`
 * runs it), else the platform's opener; undefined when no browser is likely (Linux with no display).
 */
function browserCommand(env: NodeJS.ProcessEnv): [string, string[]] | undefined {
  if (env.BROWSER) return [env.BROWSER, []];
  if (process.platform === "darwin") return ["open", []];
  if (process.platform === "win32") return ["cmd", ["/c", "start", '""']];
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  return ["xdg-open", []];
}

/**
 * Whether a browser can likely be opened on this machine: `BROWSER` is set, the platform has an opener (macOS,
 * Windows), or a Linux desktop is running (`DISPLAY` / `WAYLAND_DISPLAY`). A login that needs the browser on this
 * machine (the authorization-code flow) is pointless without one.
 *
 * @example
 * ```ts
 * const flow = canOpenBrowser() ? "authorization code" : "device code";
 * ```
 */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env): boolean {
  return browserCommand(env) !== undefined;
}

/**
 * Opens `url` with `BROWSER` or the platform's opener; resolves false when none could be started.
 *
 * @example
 * ```ts
 * if (!(await openBrowser(prompt.authorizationUrl))) console.error(`Open ${prompt.authorizationUrl}`);
 * ```
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const cmd = browserCommand(env);
  if (!cmd) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(cmd[0], [...cmd[1], url], { stdio: "ignore", detached: true, env });
    child.once("error", () => resolve(false));
    child.once("spawn", () => {
      child.unref();
      resolve(true);
    });
  });
}
