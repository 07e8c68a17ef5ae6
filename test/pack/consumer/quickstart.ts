// The README's library quick start: two members, one group, one message.
import { createKeyPackage, CredentialType, Group, lifetimeFrom, type SigningIdentity } from "@conclave/mls";
import { nodeCryptoProvider as provider } from "@conclave/mls/node";

const now = () => BigInt(Math.floor(Date.now() / 1000)); // leaf lifetimes are checked against it (RFC 9420 §7.2)
const config = { clock: now };
const suite = provider.suite(1); // MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519

async function member(name: string): Promise<SigningIdentity> {
  const keys = await suite.signatureGenerateKeyPair();
  const credential = { credentialType: CredentialType.basic, identity: new TextEncoder().encode(name) };
  return { credential, signaturePrivateKey: keys.privateKey, signaturePublicKey: keys.publicKey };
}

const alice = await Group.create({ provider, cipherSuite: 1, identity: await member("alice"), config });
const bobKeyPackage = await createKeyPackage({ suite, identity: await member("bob"), lifetime: lifetimeFrom(now(), 86_400n) });

const { welcome } = await alice.createCommit({ add: [bobKeyPackage.message] }); // Add bob, Welcome him
alice.mergePendingCommit(); // the DS accepted the commit: alice moves to epoch 1
const bob = await Group.join(welcome!, { provider, keyPackages: [bobKeyPackage], config });

const ciphertext = await alice.encryptApplicationMessage(new TextEncoder().encode("hello, bob"));
const received = await bob.processMessage(ciphertext);
if (received.kind !== "application") throw new Error(`expected a message, got ${received.kind}`);
console.log(`epoch ${bob.epoch}: ${new TextDecoder().decode(received.data)}`);
