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

/** An error as one line a person can read (API errors carry a stable code). */
export function describeError(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  const msg = typeof err?.message === "string" ? err.message : String(e);
  return typeof err?.code === "string" ? `${msg} (${err.code})` : msg;
}
