/**
 * Progress of long CLI steps (registering, adding users, recovering, …), on
 * stderr so that stdout stays what scripts parse. On a terminal: a spinner,
 * replaced by "label… done (123 ms)". Otherwise: one plain line per step when
 * it ends. Quiet: nothing.
 */
export interface ProgressSink {
  write(s: string): void;
  readonly isTTY: boolean;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const CLEAR_LINE = "\r\x1b[2K";

export class Progress {
  constructor(
    private readonly sink: ProgressSink | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs `fn`, showing `label` while it runs and how long it took. */
  async step<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const sink = this.sink;
    if (sink === undefined) return fn();
    const start = this.now();
    let timer: ReturnType<typeof setInterval> | undefined;
    if (sink.isTTY) {
      let i = 0;
      sink.write(`${FRAMES[0]} ${label}…`);
      timer = setInterval(() => sink.write(`${CLEAR_LINE}${FRAMES[++i % FRAMES.length]} ${label}…`), 80);
      timer.unref();
    }
    const end = (outcome: string) => {
      if (timer !== undefined) clearInterval(timer);
      sink.write(`${sink.isTTY ? CLEAR_LINE : ""}${label}… ${outcome} (${Math.round(this.now() - start)} ms)\n`);
    };
    try {
      const r = await fn();
      end("done");
      return r;
    } catch (e) {
      end("failed");
      throw e;
    }
  }
}
