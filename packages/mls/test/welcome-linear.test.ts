/**
 * An add with the ratchet tree in the Welcome stays linear in the group size
 * (RFC 9420 §12.4.3.1): what is the same for every new member (the encoded
 * EncryptContext with the encrypted GroupInfo, and HPKE's info_hash, RFC 9180
 * §5.1) is computed once per Welcome, not once per recipient. Proved by
 * counting the bytes an instrumented provider hashes, not by timing: the
 * count at 2N members must be about twice the count at N. The joiner's side
 * is held to the same rule. A control shows the counter tells the two
 * shapes apart (per-recipient EncryptWithLabel grows quadratically).
 */
import { describe, expect, it } from "vitest";
import { nodeCryptoProvider } from "../src/crypto/index.js";
import { Group, type KeyPackageBundle } from "../src/group/index.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { decode } from "../src/codec/tls.js";
import { WELCOME_LABEL } from "../src/welcome/welcome.js";
import { hpkeBaseSchedule, hpkeLabeledKdf, hpkeSuiteId, type Hkdf } from "../src/crypto/hpkeKeySchedule.js";
import { baseConfig, keyPackageFor, makeClient } from "./group-support.js";
import { countingProvider, type CryptoTally } from "./support/countingProvider.js";

interface AddCount {
  add: CryptoTally;
  join: CryptoTally;
  encryptedGroupInfoLength: number;
}

/** A group of `n`: one commit adds n-1 members (tree in the Welcome); the add, then one join, counted. */
async function countAdd(n: number): Promise<AddCount> {
  const { provider, tally, reset } = countingProvider();
  const clients = await Promise.all(Array.from({ length: n }, (_, i) => makeClient(provider, 1, `m${i}`)));
  const creator = await Group.create({ provider, cipherSuite: 1, identity: clients[0]!.identity, config: baseConfig });
  const bundles: KeyPackageBundle[] = await Promise.all(clients.slice(1).map((c) => keyPackageFor(c)));

  reset();
  const pending = await creator.createCommit({ add: bundles.map((b) => b.message), ratchetTreeExtension: true });
  const add = { ...tally };
  creator.mergePendingCommit();

  const message = decode(mlsMessageCodec, pending.welcome!);
  if (!("welcome" in message)) throw new Error("not a Welcome");
  reset();
  const joined = await Group.join(pending.welcome!, { provider, keyPackages: [bundles[n - 2]!], config: baseConfig });
  const join = { ...tally };
  expect(joined.epochAuthenticator).toEqual(creator.epochAuthenticator);
  return { add, join, encryptedGroupInfoLength: message.welcome.encryptedGroupInfo.length };
}

describe("a Welcome with the tree: per-Welcome work, not per-recipient (counted)", () => {
  it("add and join hash linearly in the group size; the EncryptContext is hashed once", async () => {
    const small = await countAdd(48);
    const large = await countAdd(192);

    for (const c of [small, large]) {
      // One prepared sealer for all the new members, no single-shot seal re-hashing the context.
      expect(c.add.sealers).toBe(1);
      expect(c.add.singleShotSeals).toBe(0);
      // The context hashed once: the encrypted GroupInfo plus the label and a few length bytes.
      expect(c.add.hpkeInfo).toBeGreaterThan(c.encryptedGroupInfoLength);
      expect(c.add.hpkeInfo).toBeLessThan(c.encryptedGroupInfoLength + 64);
      // The joiner opens once under that context.
      expect(c.join.hpkeInfo).toBe(c.add.hpkeInfo);
    }
    // 4x the members: about 4x the bytes hashed (a quadratic add would give ~16x).
    const addGrowth = large.add.hashed / small.add.hashed;
    const joinGrowth = large.join.hashed / small.join.hashed;
    expect(addGrowth).toBeGreaterThan(3);
    expect(addGrowth).toBeLessThan(5);
    expect(joinGrowth).toBeGreaterThan(3);
    expect(joinGrowth).toBeLessThan(5);
  }, 60_000);

  it("control: EncryptWithLabel once per recipient hashes the context each time (quadratic), the encryptor once", async () => {
    const { provider, tally, reset } = countingProvider();
    const suite = provider.suite(1);
    const perRecipient = async (n: number, prepared: boolean): Promise<number> => {
      const keys = await Promise.all(Array.from({ length: n }, () => nodeCryptoProvider.suite(1).hpkeGenerateKeyPair()));
      // A context the size of an encrypted GroupInfo holding n leaves.
      const context = new Uint8Array(n * 300);
      const plaintext = new Uint8Array(40);
      reset();
      if (prepared) {
        const seal = suite.encryptorWithLabel(WELCOME_LABEL, context);
        for (const k of keys) await seal(k.publicKey, plaintext);
      } else {
        for (const k of keys) await suite.encryptWithLabel(k.publicKey, WELCOME_LABEL, context, plaintext);
      }
      return tally.hashed;
    };
    expect((await perRecipient(128, false)) / (await perRecipient(32, false))).toBeGreaterThan(14);
    const growth = (await perRecipient(128, true)) / (await perRecipient(32, true));
    expect(growth).toBeGreaterThan(3);
    expect(growth).toBeLessThan(5);
  });

  it("the HPKE key schedule: info hashed by context() once; each recipient's key and nonce cost the same for any info", () => {
    const base = nodeCryptoProvider.suite(1);
    let hashed = 0;
    const hkdf: Hkdf = {
      kdfExtract(salt, ikm) {
        hashed += ikm.length;
        return base.kdfExtract(salt, ikm);
      },
      kdfExpand(prk, info, length) {
        hashed += info.length;
        return base.kdfExpand(prk, info, length);
      },
    };
    const schedule = hpkeBaseSchedule(hpkeLabeledKdf(hkdf, hpkeSuiteId(base.params)), base.params);
    const perRecipient = (infoLength: number): { context: number; recipients: number } => {
      hashed = 0;
      const context = schedule.context(new Uint8Array(infoLength));
      const afterContext = hashed;
      for (let r = 0; r < 10; r++) schedule.keyAndNonce(new Uint8Array(32).fill(r), context);
      return { context: afterContext, recipients: hashed - afterContext };
    };
    const small = perRecipient(1_000);
    const large = perRecipient(100_000);
    expect(large.context - small.context).toBe(99_000);
    expect(large.recipients).toBe(small.recipients);
  });
});
