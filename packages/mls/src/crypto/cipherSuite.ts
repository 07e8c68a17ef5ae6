/**
 * The cipher suite abstraction (RFC 9420 §5.1, §17.1).
 *
 * A provider (node:crypto, or WebCrypto + @noble + @hpke for browsers)
 * implements the small `CryptoPrimitives` interface for one suite;
 * `buildCipherSuite` adds the MLS labelled constructions on top, written once
 * for every provider so they cannot drift apart.
 *
 * Hashing and the KDF are synchronous (both providers can do them without
 * WebCrypto), which keeps the key schedule, secret tree and tree hashes free of
 * awaits. AEAD, HPKE and signatures are asynchronous because WebCrypto is.
 *
 * Keys are raw bytes: HPKE keys in RFC 9180 SerializePublicKey /
 * SerializePrivateKey form, signature public keys as RFC 9420 §5.1.1 says
 * (RFC 8032 for EdDSA, uncompressed SEC1 points for ECDSA), signature private
 * keys as the RFC 8032 seed (EdDSA) or the big-endian scalar (ECDSA).
 */
import { Writer } from "../codec/tls.js";
import { utf8 } from "../codec/bytes.js";
import { MlsError } from "../errors.js";
import { PreparedHmacSha256, type HkdfSha256Prk } from "./hmacSha256.js";

/** The seven cipher suites of RFC 9420 §17.1. */
export type CipherSuiteId = 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** Every {@link CipherSuiteId}, in order. */
export const CIPHER_SUITE_IDS: readonly CipherSuiteId[] = [1, 2, 3, 4, 5, 6, 7];

/** Hash of a cipher suite. */
export type HashAlgorithm = "SHA-256" | "SHA-384" | "SHA-512";
/** HPKE KEM of a cipher suite (RFC 9180). */
export type KemAlgorithm = "DHKEM-P256" | "DHKEM-P384" | "DHKEM-P521" | "DHKEM-X25519" | "DHKEM-X448";
/** AEAD of a cipher suite. */
export type AeadAlgorithm = "AES-128-GCM" | "AES-256-GCM" | "ChaCha20-Poly1305";
/** Signature scheme of a cipher suite. */
export type SignatureAlgorithm = "Ed25519" | "Ed448" | "ECDSA-P256-SHA256" | "ECDSA-P384-SHA384" | "ECDSA-P521-SHA512";

/** Static description of a suite: RFC 9420 §17.1 and the RFC 9180 identifiers. */
export interface CipherSuiteParams {
  readonly id: CipherSuiteId;
  readonly name: string;
  readonly kem: KemAlgorithm;
  readonly kemId: number;
  readonly kdfId: number;
  readonly aeadId: number;
  readonly hash: HashAlgorithm;
  readonly aead: AeadAlgorithm;
  readonly signature: SignatureAlgorithm;
  /** Hash / KDF output length (Nh). */
  readonly nh: number;
  /** AEAD key length (Nk). */
  readonly nk: number;
  /** AEAD nonce length (Nn). */
  readonly nn: number;
  /** HPKE KEM: encapsulated key, public key and private key lengths. */
  readonly nenc: number;
  readonly npk: number;
  readonly nsk: number;
}

/** The parameters of each cipher suite (RFC 9420 §17.1): algorithms, IANA ids and lengths. */
export const CIPHER_SUITES: Readonly<Record<CipherSuiteId, CipherSuiteParams>> = {
  1: {
    id: 1,
    name: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
    kem: "DHKEM-X25519",
    kemId: 0x0020,
    kdfId: 0x0001,
    aeadId: 0x0001,
    hash: "SHA-256",
    aead: "AES-128-GCM",
    signature: "Ed25519",
    nh: 32,
    nk: 16,
    nn: 12,
    nenc: 32,
    npk: 32,
    nsk: 32,
  },
  2: {
    id: 2,
    name: "MLS_128_DHKEMP256_AES128GCM_SHA256_P256",
    kem: "DHKEM-P256",
    kemId: 0x0010,
    kdfId: 0x0001,
    aeadId: 0x0001,
    hash: "SHA-256",
    aead: "AES-128-GCM",
    signature: "ECDSA-P256-SHA256",
    nh: 32,
    nk: 16,
    nn: 12,
    nenc: 65,
    npk: 65,
    nsk: 32,
  },
  3: {
    id: 3,
    name: "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
    kem: "DHKEM-X25519",
    kemId: 0x0020,
    kdfId: 0x0001,
    aeadId: 0x0003,
    hash: "SHA-256",
    aead: "ChaCha20-Poly1305",
    signature: "Ed25519",
    nh: 32,
    nk: 32,
    nn: 12,
    nenc: 32,
    npk: 32,
    nsk: 32,
  },
  4: {
    id: 4,
    name: "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448",
    kem: "DHKEM-X448",
    kemId: 0x0021,
    kdfId: 0x0003,
    aeadId: 0x0002,
    hash: "SHA-512",
    aead: "AES-256-GCM",
    signature: "Ed448",
    nh: 64,
    nk: 32,
    nn: 12,
    nenc: 56,
    npk: 56,
    nsk: 56,
  },
  5: {
    id: 5,
    name: "MLS_256_DHKEMP521_AES256GCM_SHA512_P521",
    kem: "DHKEM-P521",
    kemId: 0x0012,
    kdfId: 0x0003,
    aeadId: 0x0002,
    hash: "SHA-512",
    aead: "AES-256-GCM",
    signature: "ECDSA-P521-SHA512",
    nh: 64,
    nk: 32,
    nn: 12,
    nenc: 133,
    npk: 133,
    nsk: 66,
  },
  6: {
    id: 6,
    name: "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448",
    kem: "DHKEM-X448",
    kemId: 0x0021,
    kdfId: 0x0003,
    aeadId: 0x0003,
    hash: "SHA-512",
    aead: "ChaCha20-Poly1305",
    signature: "Ed448",
    nh: 64,
    nk: 32,
    nn: 12,
    nenc: 56,
    npk: 56,
    nsk: 56,
  },
  7: {
    id: 7,
    name: "MLS_256_DHKEMP384_AES256GCM_SHA384_P384",
    kem: "DHKEM-P384",
    kemId: 0x0011,
    kdfId: 0x0002,
    aeadId: 0x0002,
    hash: "SHA-384",
    aead: "AES-256-GCM",
    signature: "ECDSA-P384-SHA384",
    nh: 48,
    nk: 32,
    nn: 12,
    nenc: 97,
    npk: 97,
    nsk: 48,
  },
};

/** Whether `n` is one of the cipher suites this library implements (1-7). */
export function isCipherSuiteId(n: number): n is CipherSuiteId {
  return Number.isInteger(n) && n >= 1 && n <= 7;
}

/** A private key and its public key, in the encodings RFC 9420 uses (SerializePublicKey, §5.1.1). */
export interface KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** HPKECiphertext (RFC 9420 §5.1.3): the KEM output and the AEAD ciphertext. */
export interface HpkeCiphertext {
  readonly kemOutput: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** SealBase under an info fixed beforehand (see `CryptoPrimitives.hpkeSealer`). */
export type HpkeSealer = (publicKey: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => Promise<HpkeCiphertext>;

/** EncryptWithLabel under a label and context fixed beforehand (see `CipherSuite.encryptorWithLabel`). */
export type LabelledEncryptor = (publicKey: Uint8Array, plaintext: Uint8Array) => Promise<HpkeCiphertext>;

/** What a provider implements for one suite. Failures throw MlsError (CRYPTO_* codes). */
export interface CryptoPrimitives {
  readonly params: CipherSuiteParams;
  readonly provider: string;

  hash(data: Uint8Array): Uint8Array;
  /** HMAC with the suite's hash. */
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-Extract (RFC 5869). */
  kdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  /** HKDF-Expand (RFC 5869). */
  kdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  randomBytes(length: number): Uint8Array;

  aeadSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Throws MlsError CRYPTO_DECRYPT_FAILED when authentication fails. */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
  /**
   * The same, computed before returning, for a provider that can (node:crypto;
   * WebCrypto cannot). The message path uses them so that, of many messages
   * processed together, each reaches its signature check in one synchronous
   * run instead of waiting a turn per awaited step behind all the others: the
   * signature worker then starts on the first message, not after the last.
   * aeadSealNow with `out` (plaintext.length + 16 bytes, not overlapping the
   * inputs) writes the ciphertext there and returns `out`: a PrivateMessage is
   * then sealed in place in the bytes sent (CRYPTO_INVALID_LENGTH otherwise).
   * aeadOpenNow with `out` (ciphertext.length - 16 bytes) likewise writes the
   * plaintext there, zeroed when authentication fails.
   */
  readonly aeadSealNow?: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out?: Uint8Array) => Uint8Array;
  readonly aeadOpenNow?: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out?: Uint8Array) => Uint8Array;
  /**
   * An HMAC-SHA-256 PRK for several HKDF-Expand calls, for a provider with a
   * faster one than crypto/hmacSha256.ts (SHA-256 suites; the node provider's
   * native addon). The same outputs: the tests compare both with node:crypto.
   */
  readonly hkdfSha256Prk?: (key: Uint8Array) => HkdfSha256Prk;

  /** RFC 9180 SealBase / OpenBase (single-shot, base mode). */
  hpkeSeal(publicKey: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<HpkeCiphertext>;
  hpkeOpen(privateKey: Uint8Array, kemOutput: Uint8Array, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
  /**
   * SealBase to many recipients under one info: the part of the RFC 9180 §5.1
   * key schedule that depends on info alone (info_hash) is computed here, once,
   * and each call pays only for its KEM, its key and nonce, and its AEAD. The
   * same outputs as `hpkeSeal` with that info.
   */
  hpkeSealer(info: Uint8Array): HpkeSealer;
  /** RFC 9180 SetupBaseS + Context.Export: used by external init (RFC 9420 §8.3). */
  hpkeExportSender(publicKey: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Promise<{ kemOutput: Uint8Array; secret: Uint8Array }>;
  /** RFC 9180 SetupBaseR + Context.Export. */
  hpkeExportReceiver(privateKey: Uint8Array, kemOutput: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Promise<Uint8Array>;
  /** RFC 9180 §7.1.3 DeriveKeyPair. */
  hpkeDeriveKeyPair(ikm: Uint8Array): Promise<KeyPair>;
  hpkeGenerateKeyPair(): Promise<KeyPair>;
  /** The public key belonging to an HPKE private key. */
  hpkePublicKey(privateKey: Uint8Array): Promise<Uint8Array>;

  /**
   * Signatures may be computed later or on another thread (the node provider
   * batches them): the arrays passed must not change until the promise settles.
   */
  sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** False for a bad signature; throws only for a malformed public key. Same rule for the arrays as `sign`. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  signatureGenerateKeyPair(): Promise<KeyPair>;
  signaturePublicKey(privateKey: Uint8Array): Promise<Uint8Array>;
}

/**
 * HKDF-Expand under one PRK, for a secret expanded several times: a ratchet
 * secret gives a key, a nonce and the next secret (RFC 9420 §9.1), the
 * epoch's sender_data_secret a key and nonce per message (§6.3.2).
 * `destroy()` wipes any state derived from the PRK (the JavaScript SHA-256
 * path's HMAC states, as secret as the PRK); the PRK itself stays the
 * caller's to wipe.
 */
export interface KdfExpander {
  /**
   * HKDF-Expand(PRK, info, length); into `out` (`length` bytes) when given,
   * which is returned: outputs used together can then share one buffer.
   * @throws MlsError CRYPTO_INVALID_LENGTH (a length out of range, or an `out` of another length).
   */
  expand(info: Uint8Array, length: number, out?: Uint8Array): Uint8Array;
  /** RFC 9420 §8: ExpandWithLabel(PRK, Label, Context, Length); `out` as for expand. */
  expandWithLabel(label: string, context: Uint8Array, length: number, out?: Uint8Array): Uint8Array;
  destroy(): void;
}

/** A suite as the MLS layers use it: the primitives plus RFC 9420's labelled functions. */
export interface CipherSuite extends CryptoPrimitives {
  readonly id: CipherSuiteId;
  /** A {@link KdfExpander} for `prk` (SHA-256 suites keep the HMAC key states; the others call kdfExpand). */
  kdfExpander(prk: Uint8Array): KdfExpander;
  /** RFC 9420 §8: ExpandWithLabel(Secret, Label, Context, Length). */
  expandWithLabel(secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array;
  /** RFC 9420 §8: DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", Nh). */
  deriveSecret(secret: Uint8Array, label: string): Uint8Array;
  /** RFC 9420 §9: DeriveTreeSecret(Secret, Label, Generation, Length). */
  deriveTreeSecret(secret: Uint8Array, label: string, generation: number, length: number): Uint8Array;
  /** RFC 9420 §5.2: RefHash(Label, Value). */
  refHash(label: string, value: Uint8Array): Uint8Array;
  /** RFC 9420 §5.1.2: SignWithLabel. */
  signWithLabel(privateKey: Uint8Array, label: string, content: Uint8Array): Promise<Uint8Array>;
  /** RFC 9420 §5.1.2: VerifyWithLabel. */
  verifyWithLabel(publicKey: Uint8Array, label: string, content: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** RFC 9420 §5.1.3: EncryptWithLabel. */
  encryptWithLabel(publicKey: Uint8Array, label: string, context: Uint8Array, plaintext: Uint8Array): Promise<HpkeCiphertext>;
  /**
   * EncryptWithLabel to many recipients of one (label, context): the
   * EncryptContext is encoded and hashed once (a Welcome's context is the
   * encrypted GroupInfo, which may hold the whole tree, RFC 9420 §12.4.3.1).
   */
  encryptorWithLabel(label: string, context: Uint8Array): LabelledEncryptor;
  /** RFC 9420 §5.1.3: DecryptWithLabel. */
  decryptWithLabel(privateKey: Uint8Array, label: string, context: Uint8Array, kemOutput: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** A source of cipher suites (one per runtime). */
export interface CryptoProvider {
  readonly name: string;
  /** Throws MlsError UNSUPPORTED_CIPHER_SUITE for an unknown id. */
  suite(id: number): CipherSuite;
}

const MLS_PREFIX = "MLS 1.0 ";

/**
 * "MLS 1.0 " + Label as bytes. The protocol's labels are a few constants used
 * on every message, so their encodings are kept; an application's exporter
 * labels beyond the first few are encoded each time (the cache stays small).
 */
const labelCache = new Map<string, Uint8Array>();
const LABEL_CACHE_LIMIT = 64;
function mlsLabel(label: string): Uint8Array {
  return cachedLabel(labelCache, label, MLS_PREFIX);
}

/** `prefix` + `label` as bytes, kept in `cache` while it holds fewer than LABEL_CACHE_LIMIT. */
function cachedLabel(cache: Map<string, Uint8Array>, label: string, prefix: string): Uint8Array {
  let b = cache.get(label);
  if (b === undefined) {
    b = utf8(prefix + label);
    if (cache.size < LABEL_CACHE_LIMIT) cache.set(label, b);
  }
  return b;
}

/**
 * struct { opaque label<V>; opaque content<V>; } with label = "MLS 1.0 " + Label
 * (SignContent §5.1.2, EncryptContext §5.1.3), the content written in place by
 * `content`: a signer that assembles its content from parts (FramedContentTBS)
 * builds the signed bytes once instead of copying them again here.
 */
export function writeLabelled(w: Writer, label: string, content: (w: Writer) => void): void {
  w.opaque(mlsLabel(label));
  w.lengthPrefixed(content);
}

function labelled(label: string, content: Uint8Array): Uint8Array {
  const w = new Writer(content.length + label.length + 16);
  // writeLabelled's encoding, the content already in one piece: no closure per signature or encryption.
  w.opaque(mlsLabel(label));
  w.opaque(content);
  return w.finish();
}

/** A RefHash label (§5.2, it carries its own "MLS 1.0 " prefix) as bytes, kept like mlsLabel's. */
const refLabelCache = new Map<string, Uint8Array>();
function refLabel(label: string): Uint8Array {
  return cachedLabel(refLabelCache, label, "");
}

/** RFC 9420 §8: struct { uint16 length; opaque label<V>; opaque context<V>; } KDFLabel (a new array the caller owns). */
export function kdfLabel(label: string, context: Uint8Array, length: number): Uint8Array {
  const w = new Writer(context.length + label.length + 16);
  w.raw(kdfLabelHead(label, length));
  w.opaque(context);
  return w.finish();
}

/**
 * The KDFLabel up to its context's length header, per (label, length): a
 * message's sender-data key and nonce are then HMACed from three parts
 * without building the label each time.
 */
const kdfLabelHeads = new Map<string, Map<number, Uint8Array>>();
function kdfLabelHead(label: string, length: number): Uint8Array {
  let byLength = kdfLabelHeads.get(label);
  let head = byLength?.get(length);
  if (head === undefined) {
    const w = new Writer(label.length + 16);
    w.u16(length);
    w.opaque(mlsLabel(label));
    head = w.finish();
    if (byLength === undefined && kdfLabelHeads.size < LABEL_CACHE_LIMIT) kdfLabelHeads.set(label, (byLength = new Map<number, Uint8Array>()));
    if (byLength !== undefined && byLength.size < LABEL_CACHE_LIMIT) byLength.set(length, head);
  }
  return head;
}

/** A one-byte varint header (RFC 9420 §2.1.2) for short contexts, or undefined when it needs more. */
const SHORT_HEADERS = Array.from({ length: 64 }, (_, n) => Uint8Array.of(n));

class Sha256Expander implements KdfExpander {
  readonly #h: HkdfSha256Prk;

  constructor(h: HkdfSha256Prk) {
    this.#h = h;
  }

  expand(info: Uint8Array, length: number, out?: Uint8Array): Uint8Array {
    return this.#h.expand(info, length, out);
  }

  expandWithLabel(label: string, context: Uint8Array, length: number, out?: Uint8Array): Uint8Array {
    const header = SHORT_HEADERS[context.length];
    if (header === undefined || length > 32) return this.#h.expand(kdfLabel(label, context, length), length, out);
    return this.#h.expandParts(kdfLabelHead(label, length), header, context, length, out);
  }

  destroy(): void {
    this.#h.destroy();
  }
}

/** A derived secret moved into `out` (the copy wiped) when one is given. */
function into(derived: Uint8Array, out: Uint8Array | undefined): Uint8Array {
  if (out === undefined) return derived;
  if (out.length !== derived.length) throw new MlsError("CRYPTO_INVALID_LENGTH", `output must be ${derived.length} bytes, got ${out.length}`);
  out.set(derived);
  derived.fill(0);
  return out;
}

/** Adds the RFC 9420 labelled constructions to a provider's primitives. */
export function buildCipherSuite(p: CryptoPrimitives): CipherSuite {
  const nh = p.params.nh;
  const viaKdfLabel = (secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array => p.kdfExpand(secret, kdfLabel(label, context, length), length);
  const prkOf = p.params.hash === "SHA-256" ? p.hkdfSha256Prk?.bind(p) : undefined;
  // With a one-call HMAC (the native addon), a one-block expansion takes the cached KDFLabel head, the context's
  // header and the context as three parts: no KDFLabel is encoded per call (~25 per commit: key schedule, path secrets).
  const expandWithLabel =
    prkOf === undefined
      ? viaKdfLabel
      : (secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array => {
          const header = SHORT_HEADERS[context.length];
          if (header === undefined || length > 32) return viaKdfLabel(secret, label, context, length);
          const h = prkOf(secret);
          const out = h.expandParts(kdfLabelHead(label, length), header, context, length);
          h.destroy();
          return out;
        };
  const kdfExpander =
    p.params.hash === "SHA-256"
      ? (prk: Uint8Array): KdfExpander => new Sha256Expander(p.hkdfSha256Prk?.(prk) ?? new PreparedHmacSha256(prk))
      : (prk: Uint8Array): KdfExpander => ({
          expand: (info, length, out) => into(p.kdfExpand(prk, info, length), out),
          expandWithLabel: (label, context, length, out) => into(expandWithLabel(prk, label, context, length), out),
          destroy: () => undefined,
        });
  const generationContext = (generation: number): Uint8Array => {
    const w = new Writer(4);
    w.u32(generation);
    return w.finish();
  };
  return {
    ...bindAll(p),
    id: p.params.id,
    params: p.params,
    provider: p.provider,
    expandWithLabel,
    kdfExpander,
    deriveSecret: (secret, label) => expandWithLabel(secret, label, new Uint8Array(0), nh),
    deriveTreeSecret: (secret, label, generation, length) => expandWithLabel(secret, label, generationContext(generation), length),
    refHash(label, value) {
      // RFC 9420 §5.2: struct { opaque label<V>; opaque value<V>; } RefHashInput (no "MLS 1.0 " prefix added here: the label already carries it)
      const w = new Writer(value.length + label.length + 16);
      w.opaque(refLabel(label));
      w.opaque(value);
      return p.hash(w.finish());
    },
    signWithLabel: (privateKey, label, content) => p.sign(privateKey, labelled(label, content)),
    verifyWithLabel: (publicKey, label, content, signature) => p.verify(publicKey, labelled(label, content), signature),
    encryptWithLabel: (publicKey, label, context, plaintext) => p.hpkeSeal(publicKey, labelled(label, context), new Uint8Array(0), plaintext),
    encryptorWithLabel(label, context) {
      const seal = p.hpkeSealer(labelled(label, context));
      const aad = new Uint8Array(0);
      return (publicKey, plaintext) => seal(publicKey, aad, plaintext);
    },
    decryptWithLabel: (privateKey, label, context, kemOutput, ciphertext) => p.hpkeOpen(privateKey, kemOutput, labelled(label, context), new Uint8Array(0), ciphertext),
  };
}

/** Copies the primitive methods of a provider object so spreading keeps `this`. */
function bindAll(p: CryptoPrimitives): CryptoPrimitives {
  return {
    params: p.params,
    provider: p.provider,
    hash: p.hash.bind(p),
    mac: p.mac.bind(p),
    kdfExtract: p.kdfExtract.bind(p),
    kdfExpand: p.kdfExpand.bind(p),
    randomBytes: p.randomBytes.bind(p),
    aeadSeal: p.aeadSeal.bind(p),
    aeadOpen: p.aeadOpen.bind(p),
    ...(p.aeadSealNow === undefined ? {} : { aeadSealNow: p.aeadSealNow.bind(p) }),
    ...(p.aeadOpenNow === undefined ? {} : { aeadOpenNow: p.aeadOpenNow.bind(p) }),
    ...(p.hkdfSha256Prk === undefined ? {} : { hkdfSha256Prk: p.hkdfSha256Prk.bind(p) }),
    hpkeSeal: p.hpkeSeal.bind(p),
    hpkeOpen: p.hpkeOpen.bind(p),
    hpkeSealer: p.hpkeSealer.bind(p),
    hpkeExportSender: p.hpkeExportSender.bind(p),
    hpkeExportReceiver: p.hpkeExportReceiver.bind(p),
    hpkeDeriveKeyPair: p.hpkeDeriveKeyPair.bind(p),
    hpkeGenerateKeyPair: p.hpkeGenerateKeyPair.bind(p),
    hpkePublicKey: p.hpkePublicKey.bind(p),
    sign: p.sign.bind(p),
    verify: p.verify.bind(p),
    signatureGenerateKeyPair: p.signatureGenerateKeyPair.bind(p),
    signaturePublicKey: p.signaturePublicKey.bind(p),
  };
}
