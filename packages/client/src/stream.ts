/** The DS push stream (/v1/stream) as the Client sees it: a wake-up signal, opened per runtime. */
export interface Stream {
  close(): void;
}

/** Opens the stream at `url` authenticated with `token`; `onMessage` fires on each frame, with its text (a JSON StreamServerFrame). */
export type StreamOpener = (url: string, token: string, onMessage: (frame: string) => void) => Promise<Stream>;
