/**
 * The ceiling: a bare fastify app on this machine, in its own process, that
 * answers the DS's message route with what the DS answers (202 and a small
 * JSON body) after parsing the same message/mls body, and does nothing else.
 * The DS's accepted messages/s are printed as a fraction of this.
 * Prints "LISTENING <url>".
 */
import Fastify from "fastify";
import { stopOnSignal } from "./processes.js";

const app = Fastify({ logger: false });
app.addContentTypeParser("message/mls", { parseAs: "buffer", bodyLimit: 1024 * 1024 }, (_req, body, done) => {
  const b = body as Buffer;
  done(null, new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
});
app.post("/v1/groups/:groupId/messages", async (req, reply) => {
  if (!(req.body instanceof Uint8Array)) throw new Error("expected message/mls");
  void reply.code(202);
  return { epoch: 1, delivered: 1 };
});
await app.listen({ host: "127.0.0.1", port: 0 });
const addr = app.server.address();
if (addr === null || typeof addr === "string") throw new Error("no address");
stopOnSignal(() => app.close());
process.stdout.write(`LISTENING http://127.0.0.1:${addr.port}\n`);
