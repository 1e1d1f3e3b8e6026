/**
 * The credential server under attack: raw sockets send what a hostile local process (or a web page via DNS
 * rebinding) could send, while good clients keep asking for credentials. Nothing but the exact, authorised request may
 * get the credential, and good clients must keep being served throughout.
 */
import { connect, type Socket } from "node:net";
import { startCredentialServer, type CredentialServer } from "../../src/server/credentialServer.js";

/** Sizes of one run. */
export interface AttackSizes {
  /** Connections that send their request head one byte at a time, slowly (slowloris). */
  slowClients: number;
  /** Idle connections opened at once and left open. */
  idleConnections: number;
  /** Bad requests sent concurrently during the flood. */
  floodRequests: number;
  /** Good requests sent during the flood and the slow clients. */
  goodRequests: number;
  /** Wait for the server to cut the slow clients (Node checks head timeouts every 30 s, cuts after 10 s). */
  checkSlowClientsCut: boolean;
}

/** One attack's outcome. */
export interface AttackCase {
  name: string;
  /** HTTP statuses answered (0: the connection was closed without an answer). */
  statuses: number[];
  /** Answers that held the secret. */
  leaked: number;
  ok: boolean;
}

export interface AttackResult {
  cases: AttackCase[];
  goodServed: number;
  goodFailed: number;
  /** Slow clients the server had cut when we looked (only when `checkSlowClientsCut`). */
  slowCut: number | undefined;
  slowCutAfterMs: number | undefined;
}

/** Canary secrets the server serves: any answer holding them, except a good client's, is a leak. */
export const SERVER_CANARY_SECRET = "CANARYsrvSECRETdoNotPrint0000000000000000";
const CANARY_TOKEN = "CANARYsrvSESSIONtokenDoNotPrint";

interface RawAnswer {
  status: number;
  text: string;
}

/** Sends raw bytes and reads whatever comes back until the server closes or `timeoutMs` passes. */
function raw(port: number, payload: string | Buffer, timeoutMs = 3_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    const timer = setTimeout(done, timeoutMs);
    s.on("connect", () => s.write(payload));
    s.on("data", (d) => {
      text += d.toString("latin1");
      // One answer is enough: keep-alive would hold the connection open.
      const head = text.indexOf("\r\n\r\n");
      const len = /content-length: (\d+)/i.exec(text);
      if (head !== -1 && len && text.length >= head + 4 + Number(len[1])) done();
    });
    s.on("error", done);
    s.on("close", done);
  });
}

function request(
  target: string,
  headers: Record<string, string>,
  options: { method?: string; body?: string } = {},
): string {
  const lines = [`${options.method ?? "GET"} ${target} HTTP/1.1`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join("\r\n")}\r\n\r\n${options.body ?? ""}`;
}

/** Runs every attack against a fresh server; returns one row per attack plus the good clients' tally. */
export async function runServerAttack(sizes: AttackSizes): Promise<AttackResult> {
  const server: CredentialServer = await startCredentialServer({
    profiles: {
      job: async () => ({
        accessKeyId: "ASIACANARYSERVER0001",
        secretAccessKey: SERVER_CANARY_SECRET,
        sessionToken: CANARY_TOKEN,
        expiration: new Date(Date.now() + 3_600_000),
      }),
    },
  });
  const port = server.port;
  const token = server.token;
  const host = `127.0.0.1:${port}`;
  const good = (): string => request("/profiles/job", { Host: host, Authorization: token, Connection: "close" });
  const leaks = (a: RawAnswer): boolean => a.text.includes(SERVER_CANARY_SECRET) || a.text.includes(CANARY_TOKEN);
  const cases: AttackCase[] = [];
  const attack = async (name: string, payloads: (string | Buffer)[], expect: (status: number) => boolean) => {
    const answers = await Promise.all(payloads.map((p) => raw(port, p)));
    const leaked = answers.filter(leaks).length;
    const statuses = answers.map((a) => a.status);
    cases.push({ name, statuses, leaked, ok: leaked === 0 && statuses.every(expect) });
  };
  const refused = (s: number): boolean => s === 0 || (s >= 400 && s < 500);

  try {
    // The control: the exact request is served, so the attacks below are refused for what they change.
    const control = await raw(port, good());
    if (control.status !== 200 || !leaks(control)) throw new Error(`the good request got ${control.status}`);

    await attack("no token", [request("/profiles/job", { Host: host, Connection: "close" })], (s) => s === 401);
    await attack(
      "wrong, truncated, extended or re-cased token",
      [
        "0".repeat(64),
        token.slice(0, -1),
        `${token}0`,
        token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(),
        `Basic ${token}`,
        `Bearer  ${token}`,
        "",
        " ",
      ].map((t) => request("/profiles/job", { Host: host, Authorization: t, Connection: "close" })),
      (s) => s === 401 || s === 403,
    );
    await attack(
      "CR, LF or NUL in the token, header injection",
      [
        `GET /profiles/job HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${token}\rX-Injected: 1\r\nConnection: close\r\n\r\n`,
        `GET /profiles/job HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${token}\nX-Injected: 1\r\nConnection: close\r\n\r\n`,
        `GET /profiles/job HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${token}\0\r\nConnection: close\r\n\r\n`,
        `GET /profiles/job HTTP/1.1\r\nHost: ${host}\r\nAuthorization: bad\r\nAuthorization: ${token}\r\nConnection: close\r\n\r\n`,
      ],
      refused,
    );
    await attack(
      "rebinding Host (a web page's DNS name resolving to 127.0.0.1)",
      [
        "evil.example.com",
        `evil.example.com:${port}`,
        "127.0.0.1.nip.io",
        "localhost.evil.com",
        "0.0.0.0",
        "[::ffff:7f00:1]x",
        "",
      ].map((h) => request("/profiles/job", { Host: h, Authorization: token, Connection: "close" })),
      refused,
    );
    await attack(
      "no Host at all (HTTP/1.0)",
      [`GET /profiles/job HTTP/1.0\r\nAuthorization: ${token}\r\n\r\n`],
      refused,
    );
    await attack(
      "methods other than GET",
      ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD", "PROPFIND", "CONNECT"].map((method) =>
        request(
          method === "CONNECT" ? host : "/profiles/job",
          { Host: host, Authorization: token, Connection: "close" },
          { method },
        ),
      ),
      refused,
    );
    await attack(
      "path traversal and look-alike paths",
      [
        "/profiles/../profiles/job",
        "/profiles/job/../job",
        "/profiles/%2e%2e/job",
        "/profiles/job%2f..",
        "/profiles/job/",
        "//profiles/job",
        "/profiles/job%00",
        "/profiles/JOB",
        "/Profiles/job",
        "/profiles/job;x",
        "/profiles/%6a%6f%62/x",
        "/profiles/..%2f..%2fetc%2fpasswd",
        "/../../etc/passwd",
        "http://evil.example.com/profiles/job",
        "*",
      ].map((target) => request(target, { Host: host, Authorization: token, Connection: "close" })),
      refused,
    );
    await attack(
      "oversized head and target",
      [
        request("/profiles/job", {
          Host: host,
          Authorization: token,
          "X-Big": "a".repeat(16_384),
          Connection: "close",
        }),
        request(`/profiles/job?${"a".repeat(4_096)}`, { Host: host, Authorization: token, Connection: "close" }),
        request("/profiles/job", {
          Host: host,
          Authorization: token,
          ...Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`X-H${i}`, "v".repeat(30)])),
          Connection: "close",
        }),
      ],
      refused,
    );
    await attack(
      "a body on GET, request smuggling",
      [
        request(
          "/profiles/job",
          { Host: host, Authorization: token, "Content-Length": "5", Connection: "close" },
          { body: "hello" },
        ),
        request(
          "/profiles/job",
          { Host: host, Authorization: token, "Transfer-Encoding": "chunked", Connection: "close" },
          { body: "0\r\n\r\n" },
        ),
        request(
          "/profiles/job",
          {
            Host: host,
            Authorization: token,
            "Content-Length": "0",
            "Transfer-Encoding": "chunked",
            Connection: "close",
          },
          { body: "0\r\n\r\n" },
        ),
      ],
      refused,
    );
    await attack(
      "not HTTP at all",
      [
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00]),
        "\r\n\r\n\r\n",
        "GET\r\n\r\n",
        `SSH-2.0-OpenSSH_9.6\r\n`,
      ],
      refused,
    );

    // Load: idle connections, slow clients and a flood of bad requests, with good clients asking all the while.
    const idle: Socket[] = [];
    for (let i = 0; i < sizes.idleConnections; i++) idle.push(connect(port, "127.0.0.1").on("error", () => {}));
    const slow: { socket: Socket; closedAt: number | undefined }[] = [];
    const slowHead = request("/profiles/job", { Host: host, Authorization: token });
    const slowStarted = Date.now();
    for (let i = 0; i < sizes.slowClients; i++) {
      const entry = { socket: connect(port, "127.0.0.1"), closedAt: undefined as number | undefined };
      let at = 0;
      const drip = setInterval(() => {
        if (at < slowHead.length - 2 && !entry.socket.destroyed) entry.socket.write(slowHead[at++] as string);
      }, 500);
      entry.socket.on("error", () => {});
      entry.socket.on("close", () => {
        entry.closedAt = Date.now();
        clearInterval(drip);
      });
      slow.push(entry);
    }
    const flood = Array.from({ length: sizes.floodRequests }, (_, i) =>
      raw(port, request("/profiles/job", { Host: host, Authorization: `guess-${i}`, Connection: "close" }), 10_000),
    );
    const goods = Array.from({ length: sizes.goodRequests }, () => raw(port, good(), 10_000));
    const [floodAnswers, goodAnswers] = await Promise.all([Promise.all(flood), Promise.all(goods)]);
    cases.push({
      name: `flood: ${sizes.floodRequests} guessed tokens beside ${sizes.idleConnections} idle and ${sizes.slowClients} slow connections`,
      statuses: floodAnswers.map((a) => a.status),
      leaked: floodAnswers.filter(leaks).length,
      ok: floodAnswers.every((a) => !leaks(a) && refused(a.status)),
    });
    const goodServed = goodAnswers.filter((a) => a.status === 200 && leaks(a)).length;
    let slowCut: number | undefined;
    let slowCutAfterMs: number | undefined;
    if (sizes.checkSlowClientsCut) {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && slow.some((s) => s.closedAt === undefined)) {
        await new Promise((r) => setTimeout(r, 250));
      }
      slowCut = slow.filter((s) => s.closedAt !== undefined).length;
      slowCutAfterMs = Math.max(...slow.map((s) => (s.closedAt ?? Date.now()) - slowStarted));
      // After the cut, a good client is still served.
      const after = await raw(port, good());
      if (after.status !== 200)
        cases.push({ name: "served after the slow clients were cut", statuses: [after.status], leaked: 0, ok: false });
    }
    for (const s of slow) s.socket.destroy();
    for (const s of idle) s.destroy();
    return { cases, goodServed, goodFailed: sizes.goodRequests - goodServed, slowCut, slowCutAfterMs };
  } finally {
    await server.close();
  }
}
