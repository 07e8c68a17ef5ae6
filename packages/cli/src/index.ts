/** @conclave/cli — the `conclave` command as functions (for tests and embedding). */
export { main, UsageError } from "./main.js";
export { runDemo } from "./demo.js";
export { serve, type ServeOptions, type Serving } from "./serve.js";
