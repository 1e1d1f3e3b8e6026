/**
 * An IoT device job: a sensor box that uploads a reading to S3 every minute, for months, with role credentials from
 * AWS IoT Core's credentials provider. The device certificate is renewed on disk by the fleet's provisioning agent;
 * the session picks the new one up at its next refresh and warns before the old one runs out.
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { RefreshableSession, type CertificateExpiring } from "aws-refresh-session";

const session = new RefreshableSession({
  method: "iot",
  endpoint: "c1a2b3d4e5f6g7.credentials.iot.eu-west-1.amazonaws.com",
  roleAlias: "sensor-uploader",
  thingName: "sensor-7",
  certificate: "/etc/device/cert.pem",
  // The key never leaves the device's secure element (needs `npm install aws-crt`); "/etc/device/key.pem" works too.
  privateKey: {
    pkcs11: {
      module: "/usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
      tokenLabel: "device",
      pinFile: "/etc/device/token-pin",
      keyLabel: "device-key",
    },
  },
  ca: "/etc/device/AmazonRootCA1.pem",
  region: "eu-west-1",
});

session.on("certificate-expiring", (e: CertificateExpiring) => {
  console.error(`renew ${e.location}: it expires at ${e.notAfter.toISOString()}, before the credentials it obtained`);
});

const s3 = session.client(S3Client);

async function upload(reading: number): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: "acme-sensor-readings",
      Key: `sensor-7/${new Date().toISOString()}.json`,
      Body: JSON.stringify({ reading }),
    }),
  );
}

const timer = setInterval(() => {
  upload(Math.random()).catch((err: unknown) => console.error("upload failed:", err));
}, 60_000);

process.on("SIGTERM", () => {
  clearInterval(timer);
  session.close();
});
