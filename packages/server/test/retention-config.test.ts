/** Retention settings of the shipped entry points (issue 18 item 4): days from the environment, typos refused. */
import { describe, expect, it } from "vitest";
import { DEFAULT_RETENTION, retentionFromEnv } from "../src/ds/retention.js";

describe("retentionFromEnv", () => {
  it("keeps the defaults when unset and reads days otherwise", () => {
    expect(retentionFromEnv({})).toEqual({});
    expect({ ...DEFAULT_RETENTION, ...retentionFromEnv({}) }).toEqual({ readMs: 7 * 86_400_000, unreadMs: 30 * 86_400_000, intervalMs: 60_000 });
    expect(retentionFromEnv({ CONCLAVE_RETENTION_READ_DAYS: "1.5", CONCLAVE_RETENTION_UNREAD_DAYS: "90" })).toEqual({ readMs: 1.5 * 86_400_000, unreadMs: 90 * 86_400_000 });
  });

  it("refuses anything but a positive number, naming the variable", () => {
    for (const bad of ["0", "-1", "seven", "Infinity"]) {
      expect(() => retentionFromEnv({ CONCLAVE_RETENTION_UNREAD_DAYS: bad })).toThrow(/CONCLAVE_RETENTION_UNREAD_DAYS/);
    }
  });
});
