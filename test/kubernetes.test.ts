import { execFile } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, cleanEnv, ensureBuilt, ROOT, ROOT_PROFILE, withServe } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";

const run = promisify(execFile);
const boto3 = interopAvailable("boto3");
const K8S = join(ROOT, "deploy", "kubernetes");

interface EnvVar {
  name: string;
  value?: string;
}
interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  restartPolicy?: string;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: { exec?: { command: string[] } };
  livenessProbe?: { exec?: { command: string[] } };
}

function load(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(join(K8S, file), "utf8")).map((d) => d.toJS() as Record<string, unknown>);
}

const [deployment] = load("deployment.yaml");
const spec = (deployment as { spec: { template: { spec: Record<string, unknown> } } }).spec.template.spec as {
  initContainers: Container[];
  containers: Container[];
  volumes: { name: string; emptyDir?: object }[];
  securityContext: Record<string, unknown>;
  serviceAccountName: string;
};
const sidecar = spec.initContainers.find((c) => c.name === "aws-refresh")!;
const app = spec.containers.find((c) => c.name === "app")!;
const envOf = (c: Container, name: string): string => c.env!.find((e) => e.name === name)!.value!;
const argOf = (flag: string): string => sidecar.args![sidecar.args!.indexOf(flag) + 1]!;

describe("kubernetes manifests", () => {
  it("validate against the Kubernetes schemas", () => {
    for (const doc of load("serviceaccount.yaml")) new ServiceAccount(doc).validate();
    for (const doc of load("configmap.yaml")) new ConfigMap(doc).validate();
    new Deployment(deployment).validate();
    // The validator really validates: a wrong type is refused.
    const broken = structuredClone(deployment) as { spec: { replicas: unknown } };
    broken.spec.replicas = "two";
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it("wire the app to the native sidecar: same port, token in the shared emptyDir, locked-down containers", () => {
    expect(sidecar.restartPolicy).toBe("Always");
    const port = argOf("--port");
    const tokenFile = argOf("--token-file");
    expect(envOf(app, "AWS_CONTAINER_CREDENTIALS_FULL_URI")).toBe(
      `http://127.0.0.1:${port}/profiles/${argOf("--profile")}`,
    );
    expect(envOf(app, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")).toBe(tokenFile);
    const tokenVolume = spec.volumes.find((v) => v.name === "aws-refresh-token")!;
    expect(tokenVolume.emptyDir).toBeDefined();
    for (const c of [sidecar, app]) {
      const mount = c.volumeMounts!.find((m) => m.name === "aws-refresh-token")!;
      expect(tokenFile.startsWith(mount.mountPath + "/")).toBe(true);
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
      });
      expect(c.resources?.requests).toBeDefined();
      expect(c.resources?.limits).toBeDefined();
    }
    expect(app.volumeMounts!.find((m) => m.name === "aws-refresh-token")!.readOnly).toBe(true);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    for (const probe of [sidecar.readinessProbe, sidecar.livenessProbe]) {
      expect(probe?.exec?.command.join(" ")).toContain(`http://127.0.0.1:${port}/healthz`);
    }
    const config = load("configmap.yaml")[0] as { data: { config: string } };
    expect(config.data.config).toContain(`[profile ${argOf("--profile")}]`);
  });
});

describe("the same wiring with real processes", () => {
  let emu: Emulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    await ensureBuilt();
    emu = await startEmulator();
    const cfg = awsConfigDir("");
    dir = cfg.dir;
    writeFileSync(
      cfg.env.AWS_CONFIG_FILE,
      ROOT_PROFILE +
        "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = root\nrole_session_name = app\nregion = eu-west-1\n",
    );
    env = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
  }, 120_000);
  afterAll(async () => {
    await emu?.close();
  });

  it("boto3 in another process reads the sidecar's token file and URL as the manifest sets them", async () => {
    // The manifest's paths moved under a temporary directory, its fixed port replaced by a free one.
    const mountPath = "/var/run/aws-refresh";
    const remap = (p: string): string => p.replace(mountPath, dir);
    const args = sidecar.args!.filter((a, i, all) => a !== "--port" && all[i - 1] !== "--port").map(remap);
    const r = await withServe(args, env, async (info) => {
      const tokenFile = remap(envOf(app, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      const url = envOf(app, "AWS_CONTAINER_CREDENTIALS_FULL_URI").replace(/127\.0\.0\.1:\d+/, new URL(info.url).host);
      expect(url).toBe(info.profiles.app!.url);
      const envLines = readFileSync(remap(argOf("--env-file")), "utf8");
      expect(envLines).toContain(`AWS_CONTAINER_CREDENTIALS_FULL_URI=${url}\n`);
      expect(envLines).toContain(`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=${tokenFile}\n`);
      expect((await fetch(`${info.url}/healthz`)).status).toBe(200);
      if (!boto3.ok) return;
      const py = await run("python3", ["-c", "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"], {
        env: cleanEnv({
          AWS_CONTAINER_CREDENTIALS_FULL_URI: url,
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
          AWS_REGION: envOf(app, "AWS_REGION"),
          AWS_DEFAULT_REGION: envOf(app, "AWS_REGION"),
          AWS_ENDPOINT_URL: emu.url,
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        }),
      });
      expect(py.stdout.trim()).toBe("arn:aws:sts::123456789012:assumed-role/app/app");
    });
    expect(r.code).toBe(0);
  }, 120_000);
});
