import { metrics } from "@opentelemetry/api";
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { RefreshableSession, startCredentialServer } from "aws-refresh-session";
import { instrumentCredentialServer, instrumentSession } from "aws-refresh-session/telemetry";

// Your service's OpenTelemetry set-up (here: print every 60 s; in production an OTLP or Prometheus exporter).
const provider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })],
});
metrics.setGlobalMeterProvider(provider);

const session = new RefreshableSession({
  method: "sts",
  assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl" },
  refresh: { name: "etl" },
});
// Series get aws_refresh.source.name="etl" and aws_refresh.session.method="sts", plus these attributes.
const sessionTelemetry = instrumentSession(session, { attributes: { "aws_refresh.profile.name": "etl" } });

// The same session served to child processes; the server adds its answers by status code.
const server = await startCredentialServer({ profiles: { etl: session } });
const serverTelemetry = instrumentCredentialServer(server);

process.once("SIGTERM", () => {
  sessionTelemetry.close();
  serverTelemetry.close();
  void server.close().then(() => {
    session.close();
    return provider.shutdown();
  });
});
