/**
 * Conclave identities: the "presented identifiers" our AS puts into credentials
 * and the "reference identifiers" applications check them against (RFC 9420
 * §5.3.1, RFC 9750 §4).
 *
 *   user      lowercase letters, digits, '.', '_', '-'; starts with a letter or digit; 1..64 chars
 *   device    letters, digits, '.', '_', '-'; starts with a letter or digit; 1..64 chars
 *   domain    the AS's DNS-style domain: lowercase letters, digits, '.', '-'; 1..253 chars
 *
 *   client identity   "user@domain#device"   e.g. "alice@example.com#phone"
 *   user identity     "user@domain"          e.g. "alice@example.com"
 *
 * None of the three parts may contain '@' or '#', so parsing is unambiguous.
 * User names are lowercase only so that two spellings never name one user.
 *
 * In credentials:
 *   - BasicCredential.identity = UTF-8 bytes of the client identity.
 *   - X.509: the end-entity certificate carries the client identity as a
 *     subjectAltName URI "conclave:user@domain#device" (and, for people, as the
 *     subject CN).
 */
import { ApiError } from "./errors.js";

/** What a user name matches: lower-case letters, digits, `.`, `_`, `-`; 1-64 characters, starting with a letter or digit. */
export const USER_NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$";
/** What a device id matches: letters, digits, `.`, `_`, `-`; 1-64 characters, starting with a letter or digit. */
export const DEVICE_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
/** What a domain matches: lower-case DNS-like name of up to 253 characters. */
export const DOMAIN_PATTERN = "^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$";
/** The URI scheme of the subjectAltName that carries a client identity in X.509 credentials. */
export const IDENTITY_URI_SCHEME = "conclave:";

const USER_RE = new RegExp(USER_NAME_PATTERN);
const DEVICE_RE = new RegExp(DEVICE_ID_PATTERN);
const DOMAIN_RE = new RegExp(DOMAIN_PATTERN);

/** One client (device) of a user: "user@domain#device". */
export interface ClientIdentity {
  readonly user: string;
  readonly domain: string;
  readonly device: string;
}

/** A user: "user@domain". */
export interface UserIdentity {
  readonly user: string;
  readonly domain: string;
}

/** Whether `s` matches {@link USER_NAME_PATTERN}. */
export const isUserName = (s: string): boolean => USER_RE.test(s);
/** Whether `s` matches {@link DEVICE_ID_PATTERN}. */
export const isDeviceId = (s: string): boolean => DEVICE_RE.test(s);
/** Whether `s` matches {@link DOMAIN_PATTERN}. */
export const isDomain = (s: string): boolean => DOMAIN_RE.test(s);

function check(ok: boolean, what: string, value: string): void {
  if (!ok) throw new ApiError("INVALID_NAME", `invalid ${what}: ${JSON.stringify(value)}`);
}

/** "user@domain#device". @throws ApiError `INVALID_NAME` when a part does not match its pattern. */
export function formatClientIdentity(id: ClientIdentity): string {
  check(isUserName(id.user), "user name", id.user);
  check(isDomain(id.domain), "domain", id.domain);
  check(isDeviceId(id.device), "device id", id.device);
  return `${id.user}@${id.domain}#${id.device}`;
}

/** "user@domain". @throws ApiError `INVALID_NAME` when a part does not match its pattern. */
export function formatUserIdentity(id: UserIdentity): string {
  check(isUserName(id.user), "user name", id.user);
  check(isDomain(id.domain), "domain", id.domain);
  return `${id.user}@${id.domain}`;
}

/** Parses "user@domain#device". @throws ApiError `INVALID_NAME` for anything else. */
export function parseClientIdentity(s: string): ClientIdentity {
  const at = s.indexOf("@");
  const hash = s.indexOf("#");
  check(at > 0 && hash > at, "client identity", s);
  const id = { user: s.slice(0, at), domain: s.slice(at + 1, hash), device: s.slice(hash + 1) };
  check(isUserName(id.user) && isDomain(id.domain) && isDeviceId(id.device), "client identity", s);
  return id;
}

/** A reference identifier: a whole user ("user@domain") or one client ("user@domain#device"). */
export type ReferenceIdentifier =
  { readonly kind: "user"; readonly user: string; readonly domain: string } | { readonly kind: "client"; readonly user: string; readonly domain: string; readonly device: string };

/** Parses "user@domain" or "user@domain#device". @throws ApiError `INVALID_NAME` for anything else. */
export function parseReferenceIdentifier(s: string): ReferenceIdentifier {
  if (s.includes("#")) return { kind: "client", ...parseClientIdentity(s) };
  const at = s.indexOf("@");
  check(at > 0, "reference identifier", s);
  const user = s.slice(0, at);
  const domain = s.slice(at + 1);
  check(isUserName(user) && isDomain(domain), "reference identifier", s);
  return { kind: "user", user, domain };
}

/**
 * RFC 9420 §5.3.1: does the presented client identity authenticate the
 * reference identifier? A user reference matches every device of that user; a
 * client reference matches exactly that device.
 */
export function matchesReference(presented: ClientIdentity, reference: ReferenceIdentifier): boolean {
  if (presented.user !== reference.user || presented.domain !== reference.domain) return false;
  return reference.kind === "user" || presented.device === reference.device;
}
