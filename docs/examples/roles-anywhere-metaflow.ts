/**
 * An on-prem Metaflow box: a host certificate from the company CA, trusted by an IAM Roles Anywhere trust anchor,
 * gives a Python flow role credentials for as long as it runs. One CreateSession per credential lifetime, in the
 * background, instead of one per `credential_process` call; the flow (boto3) reads them from a loopback credential
 * server, as it would inside ECS.
 */
import { spawn } from "node:child_process";
import { childEnvironment, RefreshableSession, startCredentialServer } from "aws-refresh-session";

const session = new RefreshableSession({
  method: "roles-anywhere",
  trustAnchorArn: "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0c9a5b8e-1111-4222-8333-944455556666",
  profileArn: "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/6f1e2d3c-7777-4888-9999-aaaabbbbcccc",
  roleArn: "arn:aws:iam::123456789012:role/metaflow-onprem",
  certificate: "/etc/pki/host/cert.pem",
  privateKey: "/etc/pki/host/key.pem",
  intermediates: "/etc/pki/host/chain.pem",
  durationSeconds: 3600,
});

// Fail before the flow starts if the certificate will not last the night.
const end = await session.validUntil();
if (end && end.at.getTime() < Date.now() + 12 * 3_600_000) {
  throw new Error(`${end.basis} at ${end.at.toISOString()}: renew it before a 12-hour run`);
}

const server = await startCredentialServer({ profiles: { metaflow: session } });
const child = spawn("python3", ["flow.py", "run"], {
  stdio: "inherit",
  env: childEnvironment(process.env, { url: server.urlFor("metaflow"), token: server.token, region: "eu-west-1" }),
});
child.on("exit", (code) => {
  void server.close().then(() => {
    session.close();
    process.exitCode = code ?? 1;
  });
});
