import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSharedConfigFiles } from "@smithy/shared-ini-file-loader";
import { describe, expect, it } from "vitest";
import { configFileAsSdk, parseIniAsSdk } from "../src/config/sdkIni.js";

// src/config/sdkIni.ts reproduces the SDK's INI rules for the CLI's quick credential-process path: each file here is
// read by the SDK's own loader and by it, and the two must agree key for key.
const FILES: Record<string, string> = {
  plain:
    "[default]\nregion = us-east-1\n[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/dev\nsource_profile = default\n",
  comments:
    "# a comment\n; another\n[profile dev] # after a header\nregion = eu-west-1 ; inline\nurl = https://x#y\nkey=value;kept\n",
  subsections:
    "[profile s3]\ns3 =\n  max_concurrent_requests = 20\n  addressing_style = path\nregion = us-west-2\n[profile after]\nregion = x\n",
  "quoted and odd names":
    "[profile \"with space\"]\nregion = a\n[profile 'single']\nregion = b\n[profile a.b@c:d/e%f+g]\nregion = c\n[profile.dotted]\nregion = d\n",
  "default twice": "[default]\nregion = bare\nonly_bare = 1\n[profile default]\nregion = prefixed\n",
  "other sections":
    "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n[services dev]\ns3 =\n  endpoint_url = http://localhost\n[plain-not-profile]\nregion = dropped\n[foo bar]\nregion = dropped\n",
  crlf: "[profile win]\r\nregion = ap-south-1\r\nrole_arn = arn:aws:iam::123456789012:role/w\r\n",
  "values with equals and spaces":
    '[profile e]\ncredential_process = /bin/tool --a=b --c "d e"\n  spaced key  =  spaced value  \n',
  "empty and keyless": "[profile empty]\n[profile keyless]\n= novalue\njustaword\n[profile last]\nregion = z\n",
};

describe("the SDK's INI rules, reproduced (src/config/sdkIni.ts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sdk-ini-"));
  for (const [name, text] of Object.entries(FILES)) {
    it(`reads "${name}" as the SDK's loader does, as a config file and as a credentials file`, async () => {
      const file = join(dir, `${name.replace(/\W/g, "_")}.ini`);
      writeFileSync(file, text);
      const sdk = await loadSharedConfigFiles({ configFilepath: file, filepath: file, ignoreCache: true });
      const ours = parseIniAsSdk(text);
      expect(configFileAsSdk(ours)).toEqual(sdk.configFile);
      expect(ours).toEqual(sdk.credentialsFile);
      expect(Object.keys(configFileAsSdk(ours)).length).toBeGreaterThan(0);
    });
  }

  it("refuses a [__proto__] section, as the SDK does", () => {
    expect(() => parseIniAsSdk("[__proto__]\nx = 1\n")).toThrow('Found invalid profile name "__proto__"');
  });
});
