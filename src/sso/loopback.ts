import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The path of the loopback redirect, as the AWS CLI v2 registers it. */
export const LOOPBACK_CALLBACK_PATH = "/oauth/callback";

/** What came back to the loopback redirect. Holds the authorization code: never log it. */
export type LoopbackCallback =
  | { kind: "code"; code: string }
  | { kind: "error"; error: string; description: string | undefined }
  /** A callback whose `state` is not the one this login sent: forged, or a stale page of an earlier login. */
  | { kind: "wrong-state" };

/** The page the browser is shown once the login is decided. */
export interface CallbackPage {
  ok: boolean;
  title: string;
  text: string;
}

/** A listener on 127.0.0.1 waiting for one authorization response. */
export interface LoopbackRedirect {
  /** `http://127.0.0.1:PORT/oauth/callback`: the redirect URI to send to `/authorize` and CreateToken. */
  readonly redirectUri: string;
  /**
   * Resolves with the first callback that carries a code or an error. The browser's request is held open until
   * {@link LoopbackRedirect.finish} (or {@link LoopbackRedirect.close}) answers it, so its page can tell the outcome.
   */
  readonly callback: Promise<LoopbackCallback>;
  /** Answers the held browser request with `page`. */
  finish(page: CallbackPage): void;
  /** Stops listening (answering a held request with a generic page). */
  close(): Promise<void>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendPage(res: ServerResponse, status: number, page: Omit<CallbackPage, "ok">): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    connection: "close",
    // The page shows text only; nothing on it may load or run anything.
    "content-security-policy": "default-src 'none'",
  });
  res.end(
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(page.title)}</title></head>` +
      `<body><h1>${escapeHtml(page.title)}</h1><p>${escapeHtml(page.text)}</p></body></html>`,
  );
}

/**
 * Listens on 127.0.0.1 (an ephemeral port, loopback only) for the browser's return from `/authorize`, as the AWS CLI
 * v2's `AuthCodeFetcher` does. Only `GET /oauth/callback` with a `code` or an `error` counts; other requests (a
 * favicon, a probe) get a 404 or 400 and are ignored. The `state` is checked here: a callback with any other state
 * counts as `wrong-state` and is answered with a refusal at once, and no code from it is handed on.
 *
 * @example
 * ```ts
 * const loopback = await listenForRedirect({ state: randomUUID() });
 * // … send the browser to /authorize with redirect_uri = loopback.redirectUri …
 * const got = await loopback.callback;
 * ```
 */
export async function listenForRedirect(options: { state: string; keepAlive?: boolean }): Promise<LoopbackRedirect> {
  let held: ServerResponse | undefined;
  let settled = false;
  let resolveCallback!: (c: LoopbackCallback) => void;
  const callback = new Promise<LoopbackCallback>((r) => (resolveCallback = r));
  const settle = (c: LoopbackCallback): void => {
    settled = true;
    resolveCallback(c);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET" || url.pathname !== LOOPBACK_CALLBACK_PATH) {
      sendPage(res, 404, { title: "Not found", text: "This is the aws-refresh login's redirect listener." });
      return;
    }
    if (settled) {
      sendPage(res, 409, { title: "Login already answered", text: "This login has already been answered." });
      return;
    }
    const q = url.searchParams;
    const code = q.get("code");
    const error = q.get("error");
    if (code === null && error === null) {
      sendPage(res, 400, { title: "Nothing to do", text: "This request carries neither a code nor an error." });
      return;
    }
    if (q.get("state") !== options.state) {
      sendPage(res, 400, {
        title: "Login refused",
        text:
          "This answer does not belong to the login aws-refresh started (its state does not match): it may be a " +
          "stale page of an earlier login, or a forged request. Nothing was exchanged. Return to the terminal.",
      });
      settle({ kind: "wrong-state" });
      return;
    }
    held = res;
    settle(
      code !== null && error === null
        ? { kind: "code", code }
        : { kind: "error", error: error ?? "invalid_request", description: q.get("error_description") ?? undefined },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  if (options.keepAlive === false) server.unref();
  const port = (server.address() as AddressInfo).port;

  const finish = (page: CallbackPage): void => {
    const res = held;
    held = undefined;
    if (res && !res.headersSent) sendPage(res, page.ok ? 200 : 400, page);
  };
  return {
    redirectUri: `http://127.0.0.1:${port}${LOOPBACK_CALLBACK_PATH}`,
    callback,
    finish,
    async close() {
      finish({ ok: false, title: "Login ended", text: "The login has ended. Return to the terminal." });
      await new Promise<void>((resolve) => {
        // The answer just written gets a moment to reach the browser; a socket it keeps open does not hold us.
        const force = setTimeout(() => server.closeAllConnections(), 1000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
