/** The code of the ApiError `f` throws, or undefined when it returns. */
import { expect } from "vitest";
import { ApiError } from "../../src/errors.js";

export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return (e as ApiError).code;
  }
  return undefined;
}
