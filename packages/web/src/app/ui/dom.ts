/** A tiny element builder: enough DOM for a few screens, no framework. */
type Attrs = Record<string, string | boolean | ((ev: Event) => void) | undefined>;
type Child = Node | string | false | null | undefined;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== false && c !== null && c !== undefined) el.append(c);
  return el;
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...children.filter((c): c is Node | string => c !== false && c !== null && c !== undefined));
}

/** The short name of an identity "user@domain#device". */
export const userOf = (identity: string): string => identity.split("@")[0] ?? identity;
export const deviceOf = (identity: string): string => identity.split("#")[1] ?? "";

/** What the common failures mean to a person; the stable code stays visible for support. */
const PLAIN: Readonly<Record<string, string>> = {
  STORE_UNREADABLE: "That passphrase does not open this device.",
  NAME_PROOF_INVALID: "This server gives user names against invite tokens: that one is unknown, used or expired.",
  ACCOUNT_EXISTS: "That user name is taken.",
  ACCOUNT_NOT_FOUND: "There is no account with that user name.",
  RECOVERY_CODE_INVALID: "That recovery code is wrong.",
  KEY_PACKAGE_NOT_FOUND: "Nobody by that user name can be added right now (no registered device).",
  INVALID_NAME: "Names are lower-case letters, digits, . _ and -.",
  RATE_LIMITED: "Too many attempts: wait a little and try again.",
  NOT_GROUP_MEMBER: "You are no longer a member of that group.",
  SERVICE_UNAVAILABLE: "The server cannot be reached.",
};

/** An error as one line a person can read (API errors carry a stable code, kept in brackets). */
export function describeError(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  const msg = typeof err?.message === "string" ? err.message : String(e);
  if (typeof err?.code !== "string") return msg;
  return `${PLAIN[err.code] ?? msg} (${err.code})`;
}
