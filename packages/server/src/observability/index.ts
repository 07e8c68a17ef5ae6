/** Observability: Prometheus metrics (metrics.ts, install.ts) and structured, secret-free logs (logging.ts). */
export { ServerMetrics, isQueueDepthSource, type QueueDepthSource, type ServerMetricsOptions } from "./metrics.js";
export { installObservability, type MetricsOptions, type Observability } from "./install.js";
export { loggerOptions, parseLogLevel, redactUrl, isLogLevel, LOG_LEVELS, REDACTED, type LogLevel, type LogOptions } from "./logging.js";
export { logLevelFlag, logOptionsFrom, metricsOptionsFromEnv } from "./fromEnv.js";
