/**
 * The asynchronous methods of CryptoPrimitives for work a provider does
 * synchronously: the result or the thrown error as a settled promise, so a
 * caller never sees a synchronous throw from a Promise-returning method.
 */
export function settle<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}
