import type { KeyObject } from "node:crypto";
import {
  CreateOAuth2TokenCommand,
  SigninClient,
  type CreateOAuth2TokenCommandOutput,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  type SigninClientConfig,
} from "@aws-sdk/nested-clients/signin";
import { HttpRequest } from "@smithy/protocol-http";
import type { FinalizeRequestMiddleware, Logger } from "@smithy/types";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import type { Clock } from "../types.js";
import { createDpopProof } from "../util/dpop.js";
import { createSdkClient } from "../util/sdkClient.js";

/** Options of {@link LoginTokenClient}. Internal. */
export interface LoginTokenClientOptions {
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger | undefined;
  signinClientConfig: Omit<SigninClientConfig, "region" | "credentials"> | undefined;
  clientPlugins: ClientPlugin[] | undefined;
}

/**
 * The sign-in service's `CreateOAuth2Token` for `aws login` refresh tokens, through the SDK's own sign-in client (the
 * one `fromLoginCredentials` uses: its wire format, endpoint rules and retries), with a DPoP proof on every attempt.
 * One client per region, kept between refreshes. Internal to the `aws login` source.
 */
export class LoginTokenClient {
  readonly #o: LoginTokenClientOptions;
  #client: SigninClient | undefined;
  #region: string | undefined;
  /** The key of the call in flight (one at a time: the source calls it under the cache lock, once at a time). */
  #key: KeyObject | undefined;

  constructor(options: LoginTokenClientOptions) {
    this.#o = options;
  }

  // Inside the SDK's retry loop (finalizeRequest, after retries): every attempt gets a proof of its own (a `jti` is
  // good for one use), for the URL the request actually goes to.
  readonly #dpop: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => async (args) => {
    const key = this.#key;
    if (HttpRequest.isInstance(args.request) && key) {
      const q = args.request;
      const url = `${q.protocol}//${q.hostname}${q.port ? `:${q.port}` : ""}${q.path}`;
      q.headers = { ...q.headers, DPoP: createDpopProof(key, q.method, url, this.#o.clock.now()) };
    }
    return next(args);
  };

  #clientFor(region: string): SigninClient {
    if (this.#client && this.#region === region) return this.#client;
    this.#client?.destroy();
    const { env, logger } = this.#o;
    const endpoint = env.AWS_ENDPOINT_URL_SIGNIN || env.AWS_ENDPOINT_URL || undefined;
    const c = createSdkClient(
      SigninClient,
      {
        ...(endpoint ? { endpoint } : {}),
        ...(logger ? { logger } : {}),
        ...this.#o.signinClientConfig,
        region,
        // The token call is not signed (noAuth); the SDK asks for credentials all the same.
        credentials: { accessKeyId: "", secretAccessKey: "" },
      },
      "signin",
      env,
    );
    c.middlewareStack.add(this.#dpop, { step: "finalizeRequest", name: "awsRefreshDpopProof", override: true });
    for (const plugin of this.#o.clientPlugins ?? []) c.middlewareStack.use(plugin);
    this.#client = c;
    this.#region = region;
    return c;
  }

  /** The refresh-token grant; rejects with the SDK's error (`AccessDeniedException` carries `error`). */
  async refresh(args: {
    region: string;
    clientId: string;
    refreshToken: string;
    key: KeyObject;
  }): Promise<CreateOAuth2TokenCommandOutput> {
    const c = this.#clientFor(args.region);
    this.#key = args.key;
    try {
      return await c.send(
        new CreateOAuth2TokenCommand({
          tokenInput: { clientId: args.clientId, refreshToken: args.refreshToken, grantType: "refresh_token" },
        }),
      );
    } finally {
      this.#key = undefined;
    }
  }

  close(): void {
    this.#client?.destroy();
    this.#client = undefined;
  }
}
