/**
 * The node:crypto provider: the fast path for servers, the CLI and tests.
 * Only this directory of packages/mls may import `node:` modules.
 */
import { randomFillSync } from "node:crypto";
import { buildCipherSuite, CIPHER_SUITES, isCipherSuiteId } from "../cipherSuite.js";
import type { CipherSuite, CipherSuiteId, CryptoPrimitives, CryptoProvider } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { nodeKdf } from "./kdf.js";

const PROVIDER = "node";

function notYet(what: string): never {
  throw new MlsError("UNSUPPORTED_CIPHER_SUITE", `node provider: ${what} not implemented yet`);
}

function randomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

function primitives(id: CipherSuiteId): CryptoPrimitives {
  const params = CIPHER_SUITES[id];
  const kdf = nodeKdf(params.hash, params.nh);
  return {
    params,
    provider: PROVIDER,
    ...kdf,
    randomBytes,
    aeadSeal: async () => notYet("AEAD"),
    aeadOpen: async () => notYet("AEAD"),
    hpkeSeal: async () => notYet("HPKE"),
    hpkeOpen: async () => notYet("HPKE"),
    hpkeExportSender: async () => notYet("HPKE"),
    hpkeExportReceiver: async () => notYet("HPKE"),
    hpkeDeriveKeyPair: async () => notYet("HPKE"),
    hpkeGenerateKeyPair: async () => notYet("HPKE"),
    hpkePublicKey: async () => notYet("HPKE"),
    sign: async () => notYet("signatures"),
    verify: async () => notYet("signatures"),
    signatureGenerateKeyPair: async () => notYet("signatures"),
    signaturePublicKey: async () => notYet("signatures"),
  };
}

const suites = new Map<CipherSuiteId, CipherSuite>();

export const nodeCryptoProvider: CryptoProvider = {
  name: PROVIDER,
  suite(id: number): CipherSuite {
    if (!isCipherSuiteId(id)) throw new MlsError("UNSUPPORTED_CIPHER_SUITE", `unknown cipher suite ${id}`);
    let s = suites.get(id);
    if (s === undefined) {
      s = buildCipherSuite(primitives(id));
      suites.set(id, s);
    }
    return s;
  },
};
