import { X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Emulator, EmulatorRequestContext, EmulatorService } from "./types.js";
import { createTestCa, type TestCa } from "./testCa.js";
import { sendJson, sendJsonError } from "./xml.js";

/** A role alias of the emulated IoT account. */
export interface EmulatorRoleAlias {
  roleArn: string;
  /** Lifetime of the credentials it issues, seconds. Default: the emulator's credential lifetime. */
  credentialDurationSeconds?: number;
}

/** Options of {@link startIotCredentialsEndpoint}. */
export interface IotCredentialsEndpointOptions {
  /**
   * CA certificates (PEM) whose device certificates the endpoint accepts, as CAs registered with AWS IoT. Default: a
   * CA made for the endpoint, returned as `deviceCa` to issue device certificates with.
   */
  trustedCas?: string[];
  /** Default: `{ "emulator-role-alias": { roleArn: "arn:aws:iam::<account>:role/emulator-iot" } }`. */
  roleAliases?: Record<string, EmulatorRoleAlias>;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

/** A running IoT credentials endpoint. */
export interface IotCredentialsEndpoint {
  /** `https://127.0.0.1:PORT`: the source's `endpoint`. */
  readonly url: string;
  /** CA of the endpoint's own TLS certificate: the source's `ca`. */
  readonly serverCa: string;
  /** The device CA made for the endpoint, when `trustedCas` was not given. */
  readonly deviceCa: TestCa | undefined;
  /** The emulator operation name, for `emu.fault()` and `emu.calls()`. */
  readonly operation: "iot:AssumeRoleWithCertificate";
  setRoleAlias(name: string, alias: EmulatorRoleAlias): void;
  removeRoleAlias(name: string): void;
  /** Attaches a thing to a device certificate (PEM), as AttachThingPrincipal does. */
  attachThing(thingName: string, certificate: string): void;
  detachThing(thingName: string, certificate: string): void;
  /** Makes a certificate INACTIVE (answered `Certificate is invalid on this endpoint`) or ACTIVE again. */
  setCertificateActive(certificate: string, active: boolean): void;
  /** Whether the certificate's IoT policy allows iot:AssumeRoleWithCertificate (default true). */
  setPolicyAllows(certificate: string, allows: boolean): void;
  close(): Promise<void>;
}

const PATH = /^\/role-aliases\/([^/]+)\/credentials$/;

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();
}

/**
 * Starts AWS IoT Core's credentials provider for the emulator: `GET /role-aliases/<alias>/credentials` over HTTPS
 * with client certificates (TLS 1.2+), checked against the trusted CAs, the emulator's clock (expiry), thing
 * attachments (`x-amzn-iot-thingname`), certificate status and policy, answering AWS's statuses and messages
 * (`Invalid thing name passed`, `Role alias does not exist`, `Certificate is invalid on this endpoint`…). Requests go
 * through the emulator: `emu.fault("iot:AssumeRoleWithCertificate", …)` and `emu.calls(…)` apply. The credentials are
 * real emulator credentials, with the role alias's lifetime.
 *
 * @example
 * ```ts
 * const emu = await startEmulator();
 * const iot = await startIotCredentialsEndpoint(emu);
 * const device = await iot.deviceCa!.leaf({ commonName: "sensor-7" });
 * iot.attachThing("sensor-7", device.certificate);
 * // fromIotCertificate({ endpoint: iot.url, ca: iot.serverCa, roleAlias: "emulator-role-alias", … })
 * ```
 */
export async function startIotCredentialsEndpoint(
  emu: Emulator,
  options: IotCredentialsEndpointOptions = {},
): Promise<IotCredentialsEndpoint> {
  if (options.trustedCas !== undefined && (!Array.isArray(options.trustedCas) || options.trustedCas.length === 0)) {
    throw new TypeError("`trustedCas` must be a non-empty array of PEM certificates");
  }
  const host = options.host ?? "127.0.0.1";
  const deviceCa = options.trustedCas ? undefined : await createTestCa({ commonName: "emulator IoT device CA" });
  const trusted = options.trustedCas ?? [(deviceCa as TestCa).certificate];
  const serverRoot = await createTestCa({ commonName: "emulator IoT server CA" });
  const serverCert = await serverRoot.server([host, "localhost"]);
  const aliases = new Map<string, EmulatorRoleAlias>(
    Object.entries(
      options.roleAliases ?? {
        "emulator-role-alias": { roleArn: `arn:aws:iam::${emu.accountId}:role/emulator-iot` },
      },
    ),
  );
  const things = new Map<string, Set<string>>();
  const inactive = new Set<string>();
  const denied = new Set<string>();

  const server: Server = createServer({
    key: serverCert.privateKey,
    cert: serverCert.certificate,
    ca: trusted,
    requestCert: true,
    // The handshake completes for any certificate; the answer says why one is refused, as AWS IoT does.
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
  });
  server.keepAliveTimeout = 5_000;

  const service: EmulatorService = {
    name: "iot",
    match(req: IncomingMessage, url: URL) {
      return req.socket.localPort === port && (req.socket as TLSSocket).encrypted === true && PATH.test(url.pathname);
    },
    operation: () => "AssumeRoleWithCertificate",
    handle(ctx: EmulatorRequestContext) {
      const socket = ctx.req.socket as TLSSocket;
      const aliasName = decodeURIComponent(PATH.exec(ctx.url.pathname)?.[1] ?? "");
      const peer = socket.getPeerX509Certificate();
      const now = ctx.now();
      const invalid = (): void =>
        sendJsonError(ctx.res, 403, "AccessDeniedException", "Certificate is invalid on this endpoint");
      if (ctx.req.method !== "GET") return sendJsonError(ctx.res, 405, "MethodNotAllowed", "Use GET");
      if (!peer || !socket.authorized) return invalid();
      if (now >= new Date(peer.validTo).getTime() || now < new Date(peer.validFrom).getTime()) return invalid();
      const id = peer.fingerprint256.replace(/:/g, "").toLowerCase();
      if (inactive.has(id)) return invalid();
      const thing = ctx.headers["x-amzn-iot-thingname"];
      if (thing !== undefined && !things.get(thing)?.has(id)) {
        return sendJsonError(ctx.res, 403, "ForbiddenException", "Invalid thing name passed");
      }
      if (denied.has(id)) return sendJsonError(ctx.res, 403, "ForbiddenException", "Access Denied");
      const alias = aliases.get(aliasName);
      if (!alias) return sendJsonError(ctx.res, 404, "ResourceNotFoundException", "Role alias does not exist");
      const role = /^arn:aws[a-z-]*:iam::([0-9]{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/.exec(alias.roleArn);
      if (!role) {
        return sendJsonError(
          ctx.res,
          400,
          "InvalidRequestException",
          "Unable to assume the role, or the role to assume does not exist",
        );
      }
      const cred = emu.issueCredential(
        "AssumeRoleWithCertificate",
        `arn:aws:sts::${role[1]}:assumed-role/${role[2]}/${id}`,
        `AROAEMULATORIOT00001:${id}`,
        alias.credentialDurationSeconds ?? emu.credentialLifetimeSeconds(),
      );
      return sendJson(ctx.res, 200, {
        credentials: {
          accessKeyId: cred.accessKeyId,
          secretAccessKey: cred.secretAccessKey,
          sessionToken: cred.sessionToken,
          expiration: new Date(cred.expiration as number).toISOString().replace(/\.\d{3}Z$/, "Z"),
        },
      });
    },
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  emu.attach(server);
  emu.addService(service);
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `https://${urlHost}:${port}`,
    serverCa: serverRoot.certificate,
    deviceCa,
    operation: "iot:AssumeRoleWithCertificate",
    setRoleAlias(name, alias) {
      if (typeof alias?.roleArn !== "string") throw new TypeError("`alias.roleArn` must be a role ARN");
      aliases.set(name, alias);
    },
    removeRoleAlias: (name) => void aliases.delete(name),
    attachThing(thingName, certificate) {
      let set = things.get(thingName);
      if (!set) things.set(thingName, (set = new Set()));
      set.add(fingerprint(certificate));
    },
    detachThing: (thingName, certificate) => void things.get(thingName)?.delete(fingerprint(certificate)),
    setCertificateActive(certificate, active) {
      if (active) inactive.delete(fingerprint(certificate));
      else inactive.add(fingerprint(certificate));
    },
    setPolicyAllows(certificate, allows) {
      if (allows) denied.delete(fingerprint(certificate));
      else denied.add(fingerprint(certificate));
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
