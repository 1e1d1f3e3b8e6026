import type { MiddlewareStack } from "@smithy/types";

/**
 * An SDK v3 plugin that fits every client's middleware stack, whatever its input and output types: pass it to
 * `client.middlewareStack.use()` of an S3, STS, DynamoDB… client alike.
 *
 * @example
 * ```ts
 * const plugin: ClientPlugin = getExpiredTokenRecoveryPlugin(credentials);
 * s3.middlewareStack.use(plugin);
 * sqs.middlewareStack.use(plugin);
 * ```
 */
export interface ClientPlugin {
  applyToStack<Input extends object, Output extends object>(stack: MiddlewareStack<Input, Output>): void;
}
