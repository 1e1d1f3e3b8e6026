import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { QueryParameterBag } from "@smithy/types";
import type { FaultSpec } from "./faults.js";
import type { QuotaSpec } from "./quotas.js";
import type { S3Store } from "./s3Store.js";

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default us-east-1. */
  region?: string;
  /** Default 123456789012. */
  accountId?: string;
  /** Lifetime of issued credentials in seconds (>= 1), whatever DurationSeconds asked. Default 3600. */
  credentialLifetimeSeconds?: number;
  /** Long-term keys the emulator accepts. Default {@link DEFAULT_ROOT_CREDENTIALS}. */
  rootCredentials?: { accessKeyId: string; secretAccessKey: string };
  /** The server's clock runs this far ahead of (or, negative, behind) the local clock. Default 0. */
  clockOffsetMs?: number;
  /** Request quotas per operation, e.g. `{ "sts:AssumeRole": { rate: 25, burst: 25 } }`. Default: none. */
  quotas?: Record<string, QuotaSpec>;
}

/** A credential the emulator knows. Internal, but handed to service plug-ins. */
export interface KnownCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
  /** Epoch ms; undefined for long-term keys. */
  expiration: number | undefined;
  kind: string;
  arn: string;
  userId: string;
  revoked: boolean;
  /** Whether the session was created with MFA. */
  mfa: boolean;
}

/** A request as the emulator saw it; kept for tests (the last 1000). Holds no secret. */
export interface RecordedRequest {
  operation: string;
  accessKeyId: string | undefined;
  /** Form or query parameters, with secrets (tokens, codes) removed. */
  params: Record<string, string>;
  at: Date;
  status?: number;
}

/** What a service plug-in gets for each request. */
export interface EmulatorRequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: Buffer;
  headers: Record<string, string>;
  query: QueryParameterBag;
  operation: string;
  /** The verified caller, for signed requests. */
  caller: KnownCredential | undefined;
  /** The server's clock (local clock plus offset). */
  now(): number;
  emulator: Emulator;
}

/** A service plugged into the emulator (the SSO-OIDC and SSO portal use this). */
export interface EmulatorService {
  name: string;
  /** Whether an unsigned request belongs to this service. */
  match(req: IncomingMessage, url: URL): boolean;
  /** Name of the operation, e.g. "CreateToken" (counted as `<name>:<operation>`). */
  operation(req: IncomingMessage, url: URL, body: Buffer): string;
  handle(ctx: EmulatorRequestContext): Promise<void> | void;
  /** Error format for injected faults. Default: JSON with `x-amzn-errortype`. */
  sendError?(res: ServerResponse, status: number, code: string, message: string): void;
}

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:PORT`: point `endpoint`, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_<SERVICE>` here. */
  readonly url: string;
  readonly port: number;
  readonly region: string;
  readonly accountId: string;
  readonly rootCredentials: { accessKeyId: string; secretAccessKey: string };
  /** Lifetime of credentials issued from now on, in seconds (>= 1). */
  setCredentialLifetime(seconds: number): void;
  credentialLifetimeSeconds(): number;
  setClockOffset(ms: number): void;
  /** The server's clock, epoch ms. */
  now(): number;
  /**
   * Make a credential dead before its stated expiry: later requests signed with it (presigned URLs included) get the
   * answer AWS gives for an expired token (`ExpiredToken`, 400, in STS's or S3's format). Returns whether the key was
   * known.
   */
  revoke(accessKeyId: string): boolean;
  /** Inject a fault into an operation such as "sts:AssumeRole" or "s3:PutObject"; returns a function removing it. */
  fault(operation: string, spec: FaultSpec): () => void;
  clearFaults(): void;
  /**
   * Enforce a request quota on an operation (a token bucket: `burst` calls, refilled at `rate` per second), answering
   * calls beyond it with the service's throttling error (STS `Throttling`, SSO `TooManyRequestsException`, S3
   * `SlowDown`), as AWS does. Replaces the operation's quota; returns a function removing it.
   */
  quota(operation: string, spec: QuotaSpec): () => void;
  clearQuotas(): void;
  /** Calls answered with a throttling error by a quota, per operation; all of them without an argument. */
  throttled(operation?: string): number;
  /** Calls per operation ("sts:AssumeRole"); all calls without an argument. */
  calls(operation?: string): number;
  resetCalls(): void;
  /** Credentials issued so far (no secrets). */
  issued(): { accessKeyId: string; expiration: Date; kind: string; arn: string }[];
  /** Requests seen (the last 1000), optionally for one operation. */
  requests(operation?: string): RecordedRequest[];
  /** Issue a credential directly (for service plug-ins such as the SSO portal). */
  issueCredential(kind: string, arn: string, userId: string, lifetimeSeconds?: number, mfa?: boolean): KnownCredential;
  /** Look up a credential by access key id. */
  credential(accessKeyId: string): KnownCredential | undefined;
  addService(service: EmulatorService): void;
  /**
   * Also answer the requests of `server` (e.g. an HTTPS server that asks for client certificates, as the IoT
   * credentials endpoint does), with the same services, faults, counters and request log. Closed with the emulator.
   */
  attach(server: Server | HttpsServer): void;
  /** The S3 store (buckets and objects), for tests. */
  readonly s3: S3Store;
  close(): Promise<void>;
}
