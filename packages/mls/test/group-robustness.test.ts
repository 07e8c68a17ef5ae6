/**
 * Whatever bytes arrive, the Group throws only MlsError and keeps its state:
 * corrupted commits, proposals and application messages are rejected, and the
 * genuine message still works afterwards. Corrupted serialised state and
 * Welcomes are refused the same way.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual, utf8 } from "../src/codec/bytes.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { MlsError } from "../src/errors.js";
import { Group } from "../src/group/index.js";
import { baseConfig, keyPackageFor, makeClient } from "./group-support.js";

const provider = nodeCryptoProvider;

async function pair(handshake: "public" | "private") {
  const config = { ...baseConfig, handshakeWireFormat: handshake };
  const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => makeClient(provider, 1, n)));
  const a = await Group.create({ provider, cipherSuite: 1, identity: alice!.identity, config });
  const [kb, kc] = await Promise.all([keyPackageFor(bob!), keyPackageFor(carol!)]);
  const p = await a.createCommit({ add: [kb.message, kc.message] });
  a.mergePendingCommit();
  const b = await Group.join(p.welcome!, { provider, keyPackages: [kb], config });
  return { a, b, welcome: p.welcome!, kb };
}

/** A copy of `bytes` with some bytes changed, cut short, or extended. */
const mutation = (length: number) =>
  fc.oneof(
    fc.array(fc.tuple(fc.nat({ max: length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((edits) => (b: Uint8Array) => {
      const out = b.slice();
      for (const [i, x] of edits) out[i] = out[i]! ^ x;
      return out;
    }),
    fc.nat({ max: length - 1 }).map((n) => (b: Uint8Array) => b.subarray(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((extra) => (b: Uint8Array) => Uint8Array.of(...b, ...extra)),
  );

async function expectOnlyMlsError(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MlsError);
    return;
  }
  throw new Error("a corrupted message was accepted");
}

describe("Group robustness", () => {
  for (const handshake of ["public", "private"] as const) {
    it(`corrupted ${handshake} commits and application messages are refused without harm`, async () => {
      const { a, b } = await pair(handshake);
      const app = await a.encryptApplicationMessage(utf8("genuine"));
      const pending = await a.createCommit();
      await fc.assert(
        fc.asyncProperty(mutation(pending.commit.length), mutation(app.length), async (mc, ma) => {
          const [commit, message] = [mc(pending.commit), ma(app)];
          // Two edits of one byte with the same value cancel out: that is the genuine message, not a corrupted one.
          fc.pre(!bytesEqual(commit, pending.commit) && !bytesEqual(message, app));
          await expectOnlyMlsError(b.processMessage(commit));
          await expectOnlyMlsError(b.processMessage(message));
        }),
        { numRuns: 60 },
      );
      const got = await b.processMessage(app);
      expect(got.kind === "application" && new TextDecoder().decode(got.data)).toBe("genuine");
      const staged = await b.processMessage(pending.commit);
      if (staged.kind !== "commit") throw new Error("expected commit");
      b.mergeStagedCommit(staged.staged);
      a.mergePendingCommit();
      expect(b.epochAuthenticator).toEqual(a.epochAuthenticator);
    });
  }

  it("random bytes as a message, a Welcome or a serialised state", async () => {
    const { a } = await pair("private");
    // A Welcome for one new member only, so every byte of it matters to that member.
    const dave = await makeClient(provider, 1, "dave");
    const kb = await keyPackageFor(dave);
    const welcome = (await a.createCommit({ add: [kb.message] })).welcome!;
    const state = a.serialize();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), mutation(welcome.length), mutation(state.length), async (junk, mw, ms) => {
        await expectOnlyMlsError(a.processMessage(junk));
        await expectOnlyMlsError(Group.join(mw(welcome), { provider, keyPackages: [kb], config: baseConfig }));
        try {
          Group.deserialize(ms(state), provider, baseConfig);
        } catch (e) {
          expect(e).toBeInstanceOf(MlsError);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("application messages sent and received concurrently: generations follow call order, none is lost, a forged one burns nothing", async () => {
    const { a, b, welcome, kb } = await pair("private");
    // A second copy of Bob keeping no out-of-order keys: it accepts messages only in generation order.
    const strict = await Group.join(welcome, { provider, keyPackages: [kb], config: { ...baseConfig, outOfOrderWindow: 0 } });
    const n = 100; // more than the out-of-order window (32)
    const texts = Array.from({ length: n }, (_, i) => utf8(`message ${i}`));
    const sent = await Promise.all(texts.map((t) => a.encryptApplicationMessage(t)));
    // A forged copy of message 5 decrypts nothing and must not cost the genuine one its key.
    const forged = sent[5]!.slice();
    forged[forged.length - 1]! ^= 1;
    const results = await Promise.allSettled([b.processMessage(forged), ...sent.map((m) => b.processMessage(m))]);
    expect(results[0]!.status).toBe("rejected");
    const got = results.slice(1).map((r) => {
      if (r.status !== "fulfilled" || r.value.kind !== "application") throw new Error(`message not received: ${r.status === "rejected" ? String(r.reason) : r.value.kind}`);
      return new TextDecoder().decode(r.value.data);
    });
    expect(got).toEqual(texts.map((t) => new TextDecoder().decode(t)));
    // Replays fail: every key was consumed exactly once.
    for (const m of [sent[0]!, sent[50]!, sent[99]!]) await expect(b.processMessage(m)).rejects.toMatchObject({ code: "SECRET_TREE_GENERATION_CONSUMED" });
    // The generations are in call order (the signatures finished in another order): one by one in that order, the strict copy takes them all.
    for (const m of sent) expect((await strict.processMessage(m)).kind).toBe("application");
  });
});
