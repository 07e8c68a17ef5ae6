/**
 * `conclave send`'s message body: the argument, a file (--file F) or stdin
 * ("-"). Files and stdin lift argv's size cap (128 KiB on Linux); the body is
 * still bounded here, and must be UTF-8 text (the SDK sends text).
 */
import { open } from "node:fs/promises";
import { UsageError } from "./usage.js";

/** The most a message body may be: well above a chat message, far below what would exhaust memory. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export async function readBody(arg: string | undefined, file: string | undefined): Promise<string> {
  if (file !== undefined) return decode(await readBounded(file), file);
  if (arg === "-") return decode(await readBounded(undefined), "stdin");
  if (arg === undefined) throw new UsageError("send needs a message, --file F, or - for stdin");
  return arg;
}

/** Reads a file (or stdin when `path` is undefined), failing past MAX_MESSAGE_BYTES instead of buffering more. */
async function readBounded(path: string | undefined): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const stream = path === undefined ? process.stdin : (await openFile(path)).createReadStream();
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > MAX_MESSAGE_BYTES) {
      stream.destroy();
      throw new UsageError(`message from ${path ?? "stdin"} is over ${MAX_MESSAGE_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function openFile(path: string) {
  try {
    return await open(path, "r");
  } catch (e) {
    throw new UsageError(`cannot read --file ${path}: ${(e as Error).message}`);
  }
}

function decode(bytes: Uint8Array, from: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`message from ${from} is not UTF-8 text`);
  }
}
