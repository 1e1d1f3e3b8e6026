import { expect } from "vitest";
import { RefreshSessionError } from "../../src/errors.js";

/** The rejection of `p`, checked to be a RefreshSessionError. */
export async function rejection(p: Promise<unknown>): Promise<RefreshSessionError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RefreshSessionError);
  return err as RefreshSessionError;
}
