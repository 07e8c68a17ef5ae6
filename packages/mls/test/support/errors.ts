/** Error-code assertions shared by the tests: the library throws only MlsError. */
import { expect } from "vitest";
import { MlsError, type MlsErrorCode } from "../../src/errors.js";

function codeOfError(e: unknown): MlsErrorCode {
  expect(e).toBeInstanceOf(MlsError);
  return (e as MlsError).code;
}

/** The code of the MlsError `f` throws, or undefined when it returns. */
export function errorCode(f: () => unknown): MlsErrorCode | undefined {
  try {
    f();
  } catch (e) {
    return codeOfError(e);
  }
  return undefined;
}

/** The code of the MlsError `p` rejects with, or undefined when it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<MlsErrorCode | undefined> {
  try {
    await p;
  } catch (e) {
    return codeOfError(e);
  }
  return undefined;
}
