/**
 * Observability settings of the shipped entry points (`npm run main`,
 * `conclave serve`), from flags and the environment:
 *   --log-level L / CONCLAVE_LOG_LEVEL   fatal|error|warn|info|debug|trace|silent (default warn:
 *                                        a local run prints only problems; info logs every request)
 *   CONCLAVE_METRICS_PORT                serve /metrics on its own listener (off the API port)
 *   CONCLAVE_METRICS_HOST                its address (default 127.0.0.1)
 *   CONCLAVE_METRICS_TOKEN               serve /metrics on the API port to `Authorization: Bearer <token>`
 *                                        (with a port too: required there as well)
 * Neither metrics variable set: no metrics endpoint.
 */
import type { MetricsOptions } from "./install.js";
import { parseLogLevel, type LogOptions } from "./logging.js";

/** The value of `--log-level X` or `--log-level=X` in argv, if any. */
export function logLevelFlag(argv: readonly string[] = process.argv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--log-level") return argv[i + 1];
    if (a.startsWith("--log-level=")) return a.slice("--log-level=".length);
  }
  return undefined;
}

/** The log settings: the flag wins over CONCLAVE_LOG_LEVEL; default "warn". @throws Error for an unknown level (see parseLogLevel). */
export function logOptionsFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogOptions {
  return { level: parseLogLevel(flag ?? env.CONCLAVE_LOG_LEVEL, "warn") };
}

/**
 * The metrics settings from CONCLAVE_METRICS_TOKEN / _PORT / _HOST; undefined when neither token nor port is set.
 * @throws Error for a CONCLAVE_METRICS_PORT that is not an integer 0-65535.
 */
export function metricsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsOptions | undefined {
  const token = env.CONCLAVE_METRICS_TOKEN || undefined;
  const portText = env.CONCLAVE_METRICS_PORT || undefined;
  if (token === undefined && portText === undefined) return undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`bad CONCLAVE_METRICS_PORT ${JSON.stringify(portText)}`);
  return {
    ...(token === undefined ? {} : { token }),
    ...(port === undefined ? {} : { listen: { host: env.CONCLAVE_METRICS_HOST || "127.0.0.1", port } }),
  };
}
