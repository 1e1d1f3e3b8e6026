/**
 * Certificate sources against the emulator: a test CA, an IoT credentials endpoint with mutual TLS, and IAM Roles
 * Anywhere, all from `aws-refresh-session/testing`.
 */
import { RefreshableSession } from "aws-refresh-session";
import {
  addRolesAnywhere,
  createTestCa,
  startEmulator,
  startIotCredentialsEndpoint,
} from "aws-refresh-session/testing";

const emu = await startEmulator({ credentialLifetimeSeconds: 900 });
process.env.AWS_ENDPOINT_URL = emu.url; // whoami() and the Roles Anywhere source talk to the emulator

// AWS IoT Core's credentials provider: the device presents its certificate over TLS.
const iot = await startIotCredentialsEndpoint(emu, {
  roleAliases: { uploader: { roleArn: "arn:aws:iam::123456789012:role/uploader" } },
});
const device = await iot.deviceCa!.leaf({ commonName: "sensor-7" });
iot.attachThing("sensor-7", device.certificate);
const sensor = new RefreshableSession({
  method: "iot",
  endpoint: iot.url,
  ca: iot.serverCa,
  roleAlias: "uploader",
  thingName: "sensor-7",
  certificate: device.certificate, // a path or PEM text
  privateKey: device.privateKey,
  region: emu.region,
});
console.log(`iot: ${(await sensor.whoami()).Arn}`);

// IAM Roles Anywhere: CreateSession signed with the host certificate's key, chained to a trust anchor.
const root = await createTestCa();
const intermediate = await root.intermediate();
const host = await intermediate.leaf({ commonName: "metaflow-1", keyAlgorithm: "RSA" });
const ra = addRolesAnywhere(emu, {
  trustAnchors: [{ certificates: [root.certificate] }],
  profiles: [{ roleArns: ["arn:aws:iam::123456789012:role/metaflow-onprem"] }],
});
const box = new RefreshableSession({
  method: "roles-anywhere",
  trustAnchorArn: ra.trustAnchorArns[0]!,
  profileArn: ra.profileArns[0]!,
  roleArn: "arn:aws:iam::123456789012:role/metaflow-onprem",
  certificate: host.certificate,
  privateKey: host.privateKey,
  intermediates: host.chain,
  region: emu.region,
});
console.log(`roles-anywhere: ${(await box.whoami()).Arn}`);
console.log(`certificate ends ${(await box.validUntil())?.at.toISOString()}`);

sensor.close();
box.close();
await iot.close();
await emu.close();
