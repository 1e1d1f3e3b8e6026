import { join } from "node:path";
import type { Logger } from "@smithy/types";
import {
  defaultSsoCacheDir,
  fingerprint,
  formatCacheTime,
  metaPathFor,
  parseCacheTime,
  readMeta,
  tokenCacheKey,
  withCacheLock,
  writeJsonAtomic,
  type SsoRegistrationFile,
  type SsoTokenFile,
} from "./cache.js";
import type { SsoConfig } from "./config.js";
import { loginFailed } from "./loginFailed.js";

/** What a login (device or authorization-code flow) produced. */
export interface SsoLoginResult {
  /** The token cache file written. */
  path: string;
  /** When the login completed (the new Identity Center session's start, as far as we can know). */
  loginAt: Date;
  accessTokenExpiresAt: Date;
  refreshable: boolean;
}

/** Path of the token cache file of a config. */
export function tokenPathFor(cfg: Pick<SsoConfig, "startUrl" | "sessionName">, cacheDir?: string): string {
  return join(cacheDir ?? defaultSsoCacheDir(), `${tokenCacheKey(cfg.startUrl, cfg.sessionName)}.json`);
}

/**
 * Writes the token a login's CreateToken answered to the shared cache, as botocore writes it (the registration beside
 * the token, whole-second times), atomically and under the cache lock, and records the login time (and the token's
 * fingerprint) in the sidecar meta file, keeping what was learned about the session duration. Every login flow ends
 * here, so the session manager, `status` and the session-end prediction see no difference between them.
 */
export async function saveLoginToken(
  cfg: SsoConfig,
  reg: SsoRegistrationFile,
  out: { accessToken: string; expiresIn: number; refreshToken?: string | undefined },
  options: { dir: string; loginAt: number; logger?: Logger; onTokenIssued?: (fingerprint: string) => void },
): Promise<SsoLoginResult> {
  const { loginAt } = options;
  const token: SsoTokenFile = {
    startUrl: cfg.startUrl,
    region: cfg.ssoRegion,
    accessToken: out.accessToken,
    expiresAt: formatCacheTime(loginAt + out.expiresIn * 1000),
    clientId: reg.clientId,
    clientSecret: reg.clientSecret,
    registrationExpiresAt: reg.expiresAt,
    ...(out.refreshToken ? { refreshToken: out.refreshToken } : {}),
  };
  const path = tokenPathFor(cfg, options.dir);
  options.onTokenIssued?.(fingerprint(token.accessToken));
  try {
    await withCacheLock(
      path,
      async () => {
        await writeJsonAtomic(path, token);
        const meta = await readMeta(metaPathFor(path));
        await writeJsonAtomic(metaPathFor(path), {
          version: 1,
          startUrl: cfg.startUrl,
          ...(cfg.sessionName !== undefined ? { sessionName: cfg.sessionName } : {}),
          loginAt: formatCacheTime(loginAt),
          tokenFingerprint: fingerprint(token.accessToken),
          // What was learned about the session duration still holds for the next session.
          ...(meta.learnedDurationSeconds !== undefined
            ? { learnedDurationSeconds: meta.learnedDurationSeconds, learnedAt: meta.learnedAt }
            : {}),
        });
      },
      { ...(options.logger ? { logger: options.logger } : {}) },
    );
  } catch (err) {
    throw loginFailed(
      cfg,
      `the login was approved but the token could not be written to ${path} (${(err as Error).message})`,
      err,
    );
  }
  return {
    path,
    loginAt: new Date(Math.floor(loginAt / 1000) * 1000),
    accessTokenExpiresAt: new Date(parseCacheTime(token.expiresAt) as number),
    refreshable: token.refreshToken !== undefined,
  };
}
