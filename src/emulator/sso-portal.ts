import type { IncomingMessage } from "node:http";
import type { Emulator, EmulatorRequestContext, EmulatorService } from "./types.js";
import { createSsoOidcService, type SsoOidcOptions, type SsoOidcService } from "./sso-oidc.js";
import { sendJson, sendJsonError } from "./xml.js";

/** A role a user of the emulated access portal is assigned. */
export interface SsoAssignment {
  accountId: string;
  roleName: string;
  /** Default `emulator`. */
  accountName?: string;
}

/** Options of {@link createSsoPortalService}. */
export interface SsoPortalOptions {
  /**
   * The accounts and roles the portal hands out. Default: `AdministratorAccess` and `ReadOnlyAccess` in the
   * emulator's account.
   */
  assignments?: SsoAssignment[];
}

const PATHS: Record<string, string> = {
  "GET /federation/credentials": "GetRoleCredentials",
  "GET /assignment/accounts": "ListAccounts",
  "GET /assignment/roles": "ListAccountRoles",
  "POST /logout": "Logout",
};
const BEARER = "x-amz-sso_bearer_token";

function page<T>(items: T[], query: URLSearchParams): { items: T[]; nextToken?: string } {
  const start = Number(query.get("next_token") ?? "0") || 0;
  const max = Math.max(1, Math.min(100, Number(query.get("max_result") ?? "100") || 100));
  const slice = items.slice(start, start + max);
  return start + max < items.length ? { items: slice, nextToken: String(start + max) } : { items: slice };
}

/**
 * The AWS access portal (the `sso` service) for the emulator: GetRoleCredentials, ListAccounts, ListAccountRoles and
 * Logout, authorised by the `x-amz-sso_bearer_token` header against the SSO-OIDC plug-in's tokens, answering AWS's
 * `UnauthorizedException` (401) for a missing, expired or ended-session token. Role credentials are real emulator
 * credentials: S3 and STS accept them until they expire.
 *
 * @example
 * ```ts
 * const oidc = createSsoOidcService(emu);
 * emu.addService(oidc);
 * emu.addService(createSsoPortalService(emu, oidc, { assignments: [{ accountId: emu.accountId, roleName: "Dev" }] }));
 * ```
 */
export function createSsoPortalService(
  emu: Emulator,
  oidc: SsoOidcService,
  options: SsoPortalOptions = {},
): EmulatorService {
  const assignments = (
    options.assignments ?? [
      { accountId: emu.accountId, roleName: "AdministratorAccess" },
      { accountId: emu.accountId, roleName: "ReadOnlyAccess" },
    ]
  ).map((a) => {
    if (!/^[0-9]{12}$/.test(a.accountId)) throw new TypeError("`assignments[].accountId` must be 12 digits");
    if (typeof a.roleName !== "string" || a.roleName === "") {
      throw new TypeError("`assignments[].roleName` must be a non-empty string");
    }
    return { ...a, accountName: a.accountName ?? "emulator" };
  });
  return {
    name: "sso",
    match(req: IncomingMessage, url: URL) {
      return Object.hasOwn(PATHS, `${req.method} ${url.pathname}`);
    },
    operation(req: IncomingMessage, url: URL) {
      return PATHS[`${req.method} ${url.pathname}`] ?? "Unknown";
    },
    handle(ctx: EmulatorRequestContext) {
      const token = ctx.headers[BEARER];
      const session = token ? oidc.sessionForAccessToken(token) : undefined;
      if (!token || !session) {
        return sendJsonError(ctx.res, 401, "UnauthorizedException", "Session token not found or invalid");
      }
      const q = ctx.url.searchParams;
      switch (ctx.operation) {
        case "GetRoleCredentials": {
          const accountId = q.get("account_id") ?? "";
          const roleName = q.get("role_name") ?? "";
          if (!accountId || !roleName) {
            return sendJsonError(ctx.res, 400, "InvalidRequestException", "account_id and role_name are required");
          }
          if (!assignments.some((a) => a.accountId === accountId && a.roleName === roleName)) {
            return sendJsonError(ctx.res, 403, "ForbiddenException", "No access");
          }
          const user = "emulator-user";
          const cred = emu.issueCredential(
            "GetRoleCredentials",
            `arn:aws:sts::${accountId}:assumed-role/AWSReservedSSO_${roleName}_0123456789abcdef/${user}`,
            `AROAEMULATORSSO${roleName.length.toString().padStart(5, "0")}:${user}`,
          );
          return sendJson(ctx.res, 200, {
            roleCredentials: {
              accessKeyId: cred.accessKeyId,
              secretAccessKey: cred.secretAccessKey,
              sessionToken: cred.sessionToken,
              expiration: cred.expiration,
            },
          });
        }
        case "ListAccounts": {
          const seen = new Map<string, { accountId: string; accountName: string; emailAddress: string }>();
          for (const a of assignments) {
            seen.set(a.accountId, {
              accountId: a.accountId,
              accountName: a.accountName,
              emailAddress: `aws+${a.accountId}@example.com`,
            });
          }
          const p = page([...seen.values()], q);
          return sendJson(ctx.res, 200, { accountList: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) });
        }
        case "ListAccountRoles": {
          const accountId = q.get("account_id") ?? "";
          const p = page(
            assignments.filter((a) => a.accountId === accountId).map((a) => ({ roleName: a.roleName, accountId })),
            q,
          );
          return sendJson(ctx.res, 200, { roleList: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) });
        }
        case "Logout":
          oidc.logout(token);
          ctx.res.writeHead(200, { "content-length": "0" }).end();
          return;
        default:
          return sendJsonError(ctx.res, 404, "UnknownOperationException", "Unknown operation");
      }
    },
  };
}

/** Both SSO plug-ins, added to one emulator. */
export interface EmulatorSso {
  oidc: SsoOidcService;
  portal: EmulatorService;
}

/**
 * Adds SSO-OIDC and the access portal to a running emulator. Point the SDKs and the AWS CLI at it with
 * `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_SSO` and `AWS_ENDPOINT_URL_SSO_OIDC`).
 *
 * @example
 * ```ts
 * const emu = await startEmulator({ credentialLifetimeSeconds: 5 });
 * const { oidc } = addSsoServices(emu, { sessionDurationSeconds: 20, accessTokenLifetimeSeconds: 4 });
 * oidc.onDeviceAuthorization((a) => setTimeout(() => oidc.approve(a.userCode), 500));
 * ```
 */
export function addSsoServices(emu: Emulator, options: SsoOidcOptions & SsoPortalOptions = {}): EmulatorSso {
  const { assignments, ...oidcOptions } = options;
  const oidc = createSsoOidcService(emu, oidcOptions);
  const portal = createSsoPortalService(emu, oidc, assignments ? { assignments } : {});
  emu.addService(oidc);
  emu.addService(portal);
  return { oidc, portal };
}
