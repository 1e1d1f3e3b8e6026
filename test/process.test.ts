import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { RefreshSessionError } from "../src/errors.js";
import { fromCredentialProcess } from "../src/sources/process.js";

const SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY0042";
const TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEtokenBASE64xyzABCDEFGH0123456789+/==";

describe("fromCredentialProcess: a failing command's stderr is quoted without what looks like a secret", () => {
  it("masks runs of 32+ base64/hex characters and keeps the rest of the line", async () => {
    const source = fromCredentialProcess({
      command: `sh -c "echo 'debug: SecretAccessKey=${SECRET} token ${TOKEN}' >&2; echo 'role not found' >&2; exit 3"`,
      profile: "job",
      env: { PATH: process.env.PATH ?? "" },
    });
    const err = await source().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RefreshSessionError);
    const message = (err as RefreshSessionError).message;
    expect(message).toContain("exited with status 3");
    expect(message).toContain("SecretAccessKey=****");
    expect(message).toContain("role not found");
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain(TOKEN.slice(0, 32));
    // Logged whole (console.error shows the cause and its fields), it holds no secret either.
    const logged = inspect(err, { depth: 6 });
    expect(logged).toContain("role not found");
    expect(logged).not.toContain(SECRET);
    expect(logged).not.toContain(TOKEN.slice(0, 32));
  });
});
