/** A command line the CLI cannot run: one line on stderr, exit 2. */
export class UsageError extends Error {}
