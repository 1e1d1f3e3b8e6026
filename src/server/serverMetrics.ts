import { Counter, Gauge, Registry } from "prom-client";
import type { RefreshableCredentials } from "../refresh/types.js";

/** Prometheus metrics of a credential server, per profile. Internal: the server owns it. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Counts one answered request. `profile` is `""` for paths that are not a profile. */
  request(profile: string, status: number): void;
  /** Stops listening to the engines' events. */
  detach(): void;
}

/**
 * Registers the server's metrics in `registry`: seconds to expiry, validity, refreshes and failures per profile (read
 * from each engine), and answered requests per profile and status.
 */
export function createServerMetrics(
  registry: Registry,
  engines: ReadonlyMap<string, RefreshableCredentials>,
  now: () => number = Date.now,
): ServerMetrics {
  const labelNames = ["profile"] as const;
  new Gauge({
    name: "aws_refresh_credential_expiry_seconds",
    help: "Seconds until the credential served for the profile expires (absent before the first fetch and for credentials that never expire)",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [profile, engine] of engines) {
        const exp = engine.metrics().expiration;
        if (exp) this.set({ profile }, Math.round((exp.getTime() - now()) / 1000));
      }
    },
  });
  new Gauge({
    name: "aws_refresh_credential_valid",
    help: "1 when the profile holds a credential that is still valid, else 0",
    labelNames,
    registers: [registry],
    collect() {
      for (const [profile, engine] of engines) this.set({ profile }, engine.peek() ? 1 : 0);
    },
  });
  new Gauge({
    name: "aws_refresh_last_refresh_timestamp_seconds",
    help: "Unix time of the profile's last successful refresh",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [profile, engine] of engines) {
        const at = engine.metrics().lastRefreshAt;
        if (at) this.set({ profile }, Math.floor(at.getTime() / 1000));
      }
    },
  });
  const refreshes = new Counter({
    name: "aws_refresh_refreshes_total",
    help: "Successful calls to the profile's credential source",
    labelNames,
    registers: [registry],
  });
  const failures = new Counter({
    name: "aws_refresh_refresh_failures_total",
    help: "Failed calls to the profile's credential source",
    labelNames,
    registers: [registry],
  });
  const timeouts = new Counter({
    name: "aws_refresh_source_timeouts_total",
    help: "Calls to the profile's credential source that did not answer within its deadline (counted as failures too)",
    labelNames,
    registers: [registry],
  });
  const requests = new Counter({
    name: "aws_refresh_server_requests_total",
    help: "Requests answered by the credential server, by profile and HTTP status",
    labelNames: ["profile", "status"] as const,
    registers: [registry],
  });
  const unsubscribe: (() => void)[] = [];
  for (const [profile, engine] of engines) {
    // Start every series at 0 so a rate() over it works from the first scrape.
    refreshes.inc({ profile }, engine.metrics().refreshes);
    failures.inc({ profile }, engine.metrics().refreshFailures);
    timeouts.inc({ profile }, engine.metrics().timeouts);
    unsubscribe.push(engine.on("refresh", () => refreshes.inc({ profile })));
    unsubscribe.push(
      engine.on("refresh-failed", (e) => {
        failures.inc({ profile });
        if (e.timedOut) timeouts.inc({ profile });
      }),
    );
  }
  return {
    registry,
    request: (profile, status) => requests.inc({ profile, status: String(status) }),
    detach: () => {
      for (const u of unsubscribe) u();
    },
  };
}
