import { randomBytes } from "node:crypto";
import type { EmulatorRequestContext, KnownCredential } from "./types.js";
import { requestId, sendStsError, sendXml, xmlEscape } from "./xml.js";

const NS = "https://sts.amazonaws.com/doc/2011-06-15/";
const ROLE_ARN = /^arn:aws[a-z-]*:iam::([0-9]{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** The STS operation named by a Query-protocol request's `Action`. */
export function stsOperation(form: URLSearchParams | undefined, url: URL): string {
  return form?.get("Action") ?? url.searchParams.get("Action") ?? "Unknown";
}

function credentialsXml(c: KnownCredential): string {
  return (
    `<Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(c.secretAccessKey)}</SecretAccessKey>` +
    `<SessionToken>${xmlEscape(c.sessionToken ?? "")}</SessionToken>` +
    `<Expiration>${new Date(c.expiration as number).toISOString().replace(/\.\d{3}Z$/, "Z")}</Expiration></Credentials>`
  );
}

function respond(ctx: EmulatorRequestContext, action: string, result: string): void {
  const id = requestId();
  sendXml(
    ctx.res,
    200,
    `<${action}Response xmlns="${NS}">\n  <${action}Result>${result}</${action}Result>\n  <ResponseMetadata><RequestId>${id}</RequestId></ResponseMetadata>\n</${action}Response>`,
    { "x-amzn-requestid": id },
  );
}

function lifetimeFor(form: URLSearchParams, min: number, max: number, fallback: number, cap: number): number | string {
  const raw = form.get("DurationSeconds");
  if (raw === null) return Math.min(fallback, cap);
  const d = Number(raw);
  if (!Number.isInteger(d) || d < min || d > max) {
    return `1 validation error detected: Value '${raw}' at 'durationSeconds' failed to satisfy constraint: Member must have value ${d < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`}`;
  }
  return Math.min(d, cap);
}

function isJwt(token: string): boolean {
  const parts = token.split(".");
  return parts.length === 3 && parts.every((p) => /^[A-Za-z0-9_-]+={0,2}$/.test(p));
}

/** Answers STS's Query-protocol operations. */
export function handleSts(ctx: EmulatorRequestContext, form: URLSearchParams, lifetimeSeconds: number): void {
  const action = stsOperation(form, ctx.url);
  const emu = ctx.emulator;
  const caller = ctx.caller;
  const missingAuth = (): void =>
    sendStsError(ctx.res, 403, "MissingAuthenticationToken", "Request is missing Authentication Token");
  switch (action) {
    case "AssumeRole":
    case "AssumeRoleWithWebIdentity": {
      const web = action === "AssumeRoleWithWebIdentity";
      if (!web && !caller) return missingAuth();
      const roleArn = form.get("RoleArn") ?? "";
      const sessionName = form.get("RoleSessionName") ?? "";
      const m = ROLE_ARN.exec(roleArn);
      if (!m) {
        sendStsError(ctx.res, 400, "ValidationError", `${roleArn} is invalid`);
        return;
      }
      if (!SESSION_NAME.test(sessionName)) {
        sendStsError(
          ctx.res,
          400,
          "ValidationError",
          `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
        );
        return;
      }
      if (web) {
        const token = form.get("WebIdentityToken") ?? "";
        if (!isJwt(token)) {
          sendStsError(
            ctx.res,
            400,
            "InvalidIdentityToken",
            "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)",
          );
          return;
        }
      }
      const lifetime = lifetimeFor(form, 900, 43_200, 3600, lifetimeSeconds);
      if (typeof lifetime === "string") {
        sendStsError(ctx.res, 400, "ValidationError", lifetime);
        return;
      }
      const roleName = m[2] as string;
      const roleId = `AROA${randomBytes(8).toString("hex").toUpperCase()}`;
      const arn = `arn:aws:sts::${m[1]}:assumed-role/${roleName}/${sessionName}`;
      const cred = emu.issueCredential(action, arn, `${roleId}:${sessionName}`, lifetime, caller?.mfa ?? false);
      const source = form.get("SourceIdentity");
      respond(
        ctx,
        action,
        (web
          ? `<SubjectFromWebIdentityToken>emulator-subject</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience><Provider>emulator</Provider>`
          : "") +
          `<AssumedRoleUser><AssumedRoleId>${roleId}:${xmlEscape(sessionName)}</AssumedRoleId><Arn>${xmlEscape(arn)}</Arn></AssumedRoleUser>` +
          credentialsXml(cred) +
          (source ? `<SourceIdentity>${xmlEscape(source)}</SourceIdentity>` : ""),
      );
      return;
    }
    case "GetSessionToken": {
      if (!caller) return missingAuth();
      if (caller.sessionToken !== undefined) {
        sendStsError(ctx.res, 403, "AccessDenied", "Cannot call GetSessionToken with session credentials");
        return;
      }
      const serial = form.get("SerialNumber");
      const code = form.get("TokenCode");
      if ((serial === null) !== (code === null) || (code !== null && !/^[0-9]{6}$/.test(code))) {
        sendStsError(
          ctx.res,
          403,
          "AccessDenied",
          "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        );
        return;
      }
      const lifetime = lifetimeFor(form, 900, 129_600, 43_200, lifetimeSeconds);
      if (typeof lifetime === "string") {
        sendStsError(ctx.res, 400, "ValidationError", lifetime);
        return;
      }
      const cred = emu.issueCredential(action, caller.arn, caller.userId, lifetime, serial !== null);
      respond(ctx, action, credentialsXml(cred));
      return;
    }
    case "GetCallerIdentity": {
      if (!caller) return missingAuth();
      respond(
        ctx,
        action,
        `<Arn>${xmlEscape(caller.arn)}</Arn><UserId>${xmlEscape(caller.userId)}</UserId><Account>${emu.accountId}</Account>`,
      );
      return;
    }
    default:
      sendStsError(ctx.res, 400, "InvalidAction", `Could not find operation ${action} for version 2011-06-15`);
  }
}
