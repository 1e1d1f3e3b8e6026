import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

/** Escapes text for an XML element. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A request id in the shape AWS uses. */
export function requestId(): string {
  const h = randomBytes(16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Answers with an XML body. */
export function sendXml(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const buf = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  res.writeHead(status, { "content-type": "text/xml", "content-length": String(buf.length), ...headers });
  res.end(buf);
}

/** STS's (Query protocol) error body: `<ErrorResponse><Error><Type>Sender</Type><Code>…`. */
export function sendStsError(res: ServerResponse, status: number, code: string, message: string): void {
  const id = requestId();
  sendXml(
    res,
    status,
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n    <Type>${status >= 500 ? "Receiver" : "Sender"}</Type>\n` +
      `    <Code>${xmlEscape(code)}</Code>\n    <Message>${xmlEscape(message)}</Message>\n  </Error>\n  <RequestId>${id}</RequestId>\n</ErrorResponse>`,
    { "x-amzn-requestid": id },
  );
}

/** S3's error body: `<Error><Code>…</Code><Message>…</Message>…<RequestId>…</RequestId><HostId>…</HostId></Error>`. */
export function sendS3Error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
  method = "GET",
): void {
  const id = randomBytes(8).toString("hex").toUpperCase();
  const hostId = randomBytes(32).toString("base64");
  const headers = { "x-amz-request-id": id, "x-amz-id-2": hostId };
  if (method === "HEAD") {
    // HEAD answers carry no body; the SDK derives the error from the status.
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const fields = Object.entries(extra)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join("");
  sendXml(
    res,
    status,
    `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${fields}<RequestId>${id}</RequestId><HostId>${hostId}</HostId></Error>`,
    headers,
  );
}

/** JSON error as the JSON/REST services (SSO, SSO-OIDC) answer: `x-amzn-errortype` header plus a body. */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  body: Record<string, unknown> = {},
): void {
  const buf = Buffer.from(JSON.stringify({ message, ...body }));
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(buf.length),
    "x-amzn-errortype": code,
    "x-amzn-requestid": requestId(),
  });
  res.end(buf);
}

/** Answers with a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(buf.length),
    "x-amzn-requestid": requestId(),
  });
  res.end(buf);
}
