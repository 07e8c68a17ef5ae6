/**
 * Recovery codes: 20 random bytes shown once as 32 Crockford base32
 * characters in groups of four, kept by the server only as a slow hash
 * (scrypt, RFC 7914) so a copy of the database does not give them away.
 *
 * Stored form: "scrypt$<log2 N>$<salt base64url>$<hash base64url>" (r = 8, p = 1).
 */
import { scrypt } from "node:crypto";
import { fromBase64Url, toBase64Url } from "@conclave/api";
import { constantTimeEqual } from "@conclave/mls";
import { randomBytes } from "../crypto.js";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford: no I, L, O, U
const CODE_BYTES = 20;
const HASH_LENGTH = 32;

export const DEFAULT_RECOVERY_COST = 15;

export function newRecoveryCode(): string {
  const raw = randomBytes(CODE_BYTES);
  let bits = 0;
  let acc = 0;
  let out = "";
  for (const b of raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
  }
  raw.fill(0);
  return out.match(/.{4}/g)!.join("-");
}

/** What the user typed, as the code was issued: upper case, no separators, Crockford look-alikes folded. */
export function normaliseRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
}

function scryptHash(code: string, salt: Uint8Array, log2n: number): Promise<Uint8Array> {
  const N = 2 ** log2n;
  return new Promise((resolve, reject) =>
    scrypt(normaliseRecoveryCode(code), salt, HASH_LENGTH, { N, r: 8, p: 1, maxmem: 256 * N * 8 + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(new Uint8Array(key)))),
  );
}

export async function hashRecoveryCode(code: string, log2n: number): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${log2n}$${toBase64Url(salt)}$${toBase64Url(await scryptHash(code, salt, log2n))}`;
}

export async function verifyRecoveryCode(code: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== "scrypt") return false;
  const log2n = Number(parts[1]);
  if (!Number.isInteger(log2n) || log2n < 1 || log2n > 22 || code.length > 200) return false;
  const expected = fromBase64Url(parts[3]!, "hash");
  return constantTimeEqual(await scryptHash(code, fromBase64Url(parts[2]!, "salt"), log2n), expected);
}
