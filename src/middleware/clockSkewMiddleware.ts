import {
  SMITHY_CONTEXT_KEY,
  type FinalizeRequestMiddleware,
  type HandlerExecutionContext,
  type MiddlewareStack,
  type RelativeMiddlewareOptions,
} from "@smithy/types";
import type { ClientPlugin } from "./clientPlugin.js";
import type { ClockSkew } from "./clockSkew.js";

/**
 * Where {@link clockSkewMiddleware} sits: just before `httpSigningMiddleware`, after `retryMiddleware`, so each attempt
 * (the SDK's retries included) is signed with the shared offset and each answer's `Date` header feeds it.
 *
 * @example
 * ```ts
 * client.middlewareStack.addRelativeTo(clockSkewMiddleware(skew), clockSkewMiddlewareOptions);
 * ```
 */
export const clockSkewMiddlewareOptions: RelativeMiddlewareOptions = Object.freeze({
  name: "clockSkewMiddleware",
  relation: "before",
  toMiddleware: "httpSigningMiddleware",
  tags: ["CLOCK_SKEW"],
  override: true,
});

/** The resolved client config the signer reads `systemClockOffset` from (AWS SigV4 auth schemes carry it). */
function signingConfig(context: HandlerExecutionContext): { systemClockOffset?: unknown } | undefined {
  const props = context[SMITHY_CONTEXT_KEY]?.selectedHttpAuthScheme?.httpAuthOption?.signingProperties;
  const config = (props as { config?: unknown } | undefined)?.config;
  return config !== null && typeof config === "object" ? (config as { systemClockOffset?: unknown }) : undefined;
}

/**
 * Middleware sharing one clock offset across clients: before each attempt is signed it sets the client's
 * `systemClockOffset` to the shared estimate, and it feeds every answer's `Date` header (errors included) back into
 * it. The SDK's own per-client correction keeps running underneath.
 *
 * @example
 * ```ts
 * const skew = new ClockSkew();
 * s3.middlewareStack.addRelativeTo(clockSkewMiddleware(skew), clockSkewMiddlewareOptions);
 * ```
 */
export function clockSkewMiddleware<Input extends object = object, Output extends object = object>(
  skew: ClockSkew,
): FinalizeRequestMiddleware<Input, Output> {
  return (next, context) => async (args) => {
    const config = signingConfig(context);
    if (config && skew.samples > 0 && typeof config.systemClockOffset === "number") {
      config.systemClockOffset = skew.offsetMs;
    }
    const sentAt = skew.localNow();
    try {
      const out = await next(args);
      skew.observeResponse(out.response, sentAt, skew.localNow());
      return out;
    } catch (err) {
      skew.observeResponse((err as { $response?: unknown } | null)?.$response, sentAt, skew.localNow());
      throw err;
    }
  };
}

/**
 * The SDK plugin form of {@link clockSkewMiddleware}. Every `session.client()` has it; `session.plugin()` bundles it
 * with the recovery plugin for clients you build yourself.
 *
 * @example
 * ```ts
 * const skew = new ClockSkew();
 * sts.middlewareStack.use(getClockSkewPlugin(skew));
 * ```
 */
export function getClockSkewPlugin(skew: ClockSkew): ClientPlugin {
  const middleware = clockSkewMiddleware(skew);
  return {
    applyToStack<Input extends object, Output extends object>(stack: MiddlewareStack<Input, Output>): void {
      stack.addRelativeTo(
        middleware as unknown as FinalizeRequestMiddleware<Input, Output>,
        clockSkewMiddlewareOptions,
      );
    },
  };
}
