import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";

/** A moto_server child process on a free loopback port. */
export interface Moto {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts moto_server with IAM authentication switched on after `noAuthCalls` unauthenticated calls: from then on it
 * checks every SigV4 signature and session token, and IAM permissions, as AWS does.
 */
export async function startMoto(noAuthCalls: number): Promise<Moto> {
  const port = await freePort();
  const child: ChildProcess = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(noAuthCalls) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited early: ${stderr}`);
    try {
      // moto's own status endpoint: not an AWS call, so it does not use up an unauthenticated action.
      const res = await fetch(`${url}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`moto_server did not start within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

const ALLOW_ALL = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
});
const TRUST_ANYONE = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }],
});

/**
 * moto_server with an IAM user (an access key, an allow-all policy) and roles anyone may assume, each allowed
 * everything. The user is made with moto's three unauthenticated calls; from then on moto checks every signature and
 * session token, so the roles are themselves made with calls the user's key signs.
 */
export async function startMotoAccount(options: {
  user: string;
  roles: string[];
}): Promise<{ server: Moto; userKeys: { accessKeyId: string; secretAccessKey: string } }> {
  const server = await startMoto(3);
  try {
    const endpoint = server.url;
    const anon = new IAMClient({
      region: "us-east-1",
      endpoint,
      credentials: { accessKeyId: "AKIAANON", secretAccessKey: "anon" },
    });
    await anon.send(new CreateUserCommand({ UserName: options.user }));
    const key = await anon.send(new CreateAccessKeyCommand({ UserName: options.user }));
    await anon.send(new PutUserPolicyCommand({ UserName: options.user, PolicyName: "all", PolicyDocument: ALLOW_ALL }));
    anon.destroy();
    const userKeys = { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
    const iam = new IAMClient({ region: "us-east-1", endpoint, credentials: userKeys });
    for (const name of options.roles) {
      await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST_ANYONE }));
      await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: "all", PolicyDocument: ALLOW_ALL }));
    }
    iam.destroy();
    return { server, userKeys };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
