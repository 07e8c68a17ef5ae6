/**
 * The slice of the Reflect metadata API (the "reflect-metadata" proposal) that
 * @peculiar/x509 needs through its tsyringe dependency: tsyringe refuses to
 * load without `Reflect.getMetadata`. No polyfill package is installed, so this
 * installs a minimal one (defineMetadata, getOwnMetadata, getMetadata,
 * hasOwnMetadata, hasMetadata), and only where the functions are missing.
 * Import this module before @peculiar/x509.
 */
type Key = string | symbol | undefined;

const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();

function table(target: object, property: Key, create: boolean): Map<unknown, unknown> | undefined {
  let byProperty = store.get(target);
  if (byProperty === undefined) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let entries = byProperty.get(property);
  if (entries === undefined && create) {
    entries = new Map();
    byProperty.set(property, entries);
  }
  return entries;
}

const api = {
  defineMetadata(key: unknown, value: unknown, target: object, property?: string | symbol): void {
    table(target, property, true)!.set(key, value);
  },
  hasOwnMetadata(key: unknown, target: object, property?: string | symbol): boolean {
    return table(target, property, false)?.has(key) ?? false;
  },
  getOwnMetadata(key: unknown, target: object, property?: string | symbol): unknown {
    return table(target, property, false)?.get(key);
  },
  hasMetadata(key: unknown, target: object, property?: string | symbol): boolean {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      if (api.hasOwnMetadata(key, t, property)) return true;
    }
    return false;
  },
  getMetadata(key: unknown, target: object, property?: string | symbol): unknown {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const entries = table(t, property, false);
      if (entries?.has(key)) return entries.get(key);
    }
    return undefined;
  },
};

const R = Reflect as unknown as Record<string, unknown>;
for (const [name, fn] of Object.entries(api)) {
  if (typeof R[name] !== "function") R[name] = fn;
}

export {};
