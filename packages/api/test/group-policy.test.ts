/**
 * The Conclave membership policy extension (issue 17): its bytes, its
 * default, and that malformed values are refused rather than read as open.
 */
import { describe, expect, it } from "vitest";
import { decode, encode, isMlsError, type Extension } from "@conclave/mls";
import { DEFAULT_GROUP_POLICY, GROUP_POLICY_EXTENSION_TYPE, groupPolicyCodec, groupPolicyExtension, readGroupPolicy } from "../src/groupPolicy.js";

describe("group policy extension", () => {
  it("is a private-use GroupContext extension with a fixed encoding", () => {
    expect(GROUP_POLICY_EXTENSION_TYPE).toBeGreaterThanOrEqual(0xf000);
    expect(GROUP_POLICY_EXTENSION_TYPE).toBeLessThanOrEqual(0xffff);
    expect([...encode(groupPolicyCodec, { externalJoin: "closed" })]).toEqual([1, 0]);
    expect([...encode(groupPolicyCodec, { externalJoin: "open" })]).toEqual([1, 1]);
    const ext = groupPolicyExtension({ externalJoin: "open" });
    expect(ext.extensionType).toBe(GROUP_POLICY_EXTENSION_TYPE);
    expect(readGroupPolicy([ext])).toEqual({ externalJoin: "open" });
  });

  it("version 2 adds the handshake wire format (opaque groups)", () => {
    expect([...encode(groupPolicyCodec, { externalJoin: "closed", handshakes: "private" })]).toEqual([2, 0, 1]);
    expect([...encode(groupPolicyCodec, { externalJoin: "open", handshakes: "public" })]).toEqual([2, 1, 0]);
    expect(decode(groupPolicyCodec, new Uint8Array([2, 1, 1]))).toEqual({ externalJoin: "open", handshakes: "private" });
    // Version 1 bytes still mean what they meant: public handshakes.
    expect(readGroupPolicy([groupPolicyExtension({ externalJoin: "closed" })]).handshakes).toBeUndefined();
  });

  it("defaults to closed when absent", () => {
    expect(DEFAULT_GROUP_POLICY.externalJoin).toBe("closed");
    expect(readGroupPolicy([])).toEqual({ externalJoin: "closed" });
  });

  it("refuses unknown versions, values and trailing bytes", () => {
    for (const bad of [[3, 0], [2, 0], [2, 0, 2], [1, 2], [1, 0, 0], [2, 0, 1, 0], [1]]) {
      const ext: Extension = { extensionType: GROUP_POLICY_EXTENSION_TYPE, extensionData: new Uint8Array(bad) };
      let err: unknown;
      try {
        readGroupPolicy([ext]);
      } catch (e) {
        err = e;
      }
      expect(isMlsError(err), `bytes ${bad.join(",")}`).toBe(true);
    }
    expect(decode(groupPolicyCodec, new Uint8Array([1, 0]))).toEqual({ externalJoin: "closed" });
  });
});
