import { describe, expect, it } from "vitest";
import { withoutDefaultCredentials } from "../src/cli/childConfig.js";

describe("withoutDefaultCredentials", () => {
  it("drops the default profile's credential keys (and their continuation lines), keeping every other line", () => {
    const text =
      "# my config\n[default]\nregion = eu-west-1\naws_access_key_id = AKIAUSER\nAWS_Secret_Access_Key=s3cret\n" +
      "s3 =\n  addressing_style = path\n[profile default]\nrole_arn = arn:aws:iam::1:role/x\noutput = json\n" +
      "credential_process = vault\n  --continued\n[profile other]\naws_access_key_id = AKIAOTHER\n";
    expect(withoutDefaultCredentials(text)).toBe(
      "# my config\n[default]\nregion = eu-west-1\ns3 =\n  addressing_style = path\n[profile default]\n" +
        "output = json\n[profile other]\naws_access_key_id = AKIAOTHER\n",
    );
  });

  it("leaves a file without a default profile as it is", () => {
    const text = "[profile a]\naws_access_key_id = A\n\n[profile b]\nregion = us-east-1\n";
    expect(withoutDefaultCredentials(text)).toBe(text);
  });
});
