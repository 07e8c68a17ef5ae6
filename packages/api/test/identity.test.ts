import { describe, expect, it } from "vitest";
import { formatClientIdentity, formatUserIdentity, matchesReference, parseClientIdentity, parseReferenceIdentifier } from "../src/identity.js";
import { codeOf } from "./support/errors.js";

describe("identities", () => {
  it("formats and parses user@domain#device", () => {
    const id = { user: "alice", domain: "example.com", device: "Phone-1" };
    const s = formatClientIdentity(id);
    expect(s).toBe("alice@example.com#Phone-1");
    expect(parseClientIdentity(s)).toEqual(id);
    expect(formatUserIdentity(id)).toBe("alice@example.com");
  });

  it("rejects names outside the rules", () => {
    const bad = [
      { user: "Alice", domain: "example.com", device: "d" }, // upper case user
      { user: "al ice", domain: "example.com", device: "d" },
      { user: "", domain: "example.com", device: "d" },
      { user: "a".repeat(65), domain: "example.com", device: "d" },
      { user: "alice", domain: "Example.com", device: "d" },
      { user: "alice", domain: "example.com", device: "d#2" },
      { user: "alice", domain: "example.com", device: "-d" },
      { user: "al@ice", domain: "example.com", device: "d" },
    ];
    for (const id of bad)
      expect(
        codeOf(() => formatClientIdentity(id)),
        JSON.stringify(id),
      ).toBe("INVALID_NAME");
    for (const s of ["alice", "alice#d", "alice@#d", "@example.com#d", "alice@example.com#", "alice@ex ample.com#d", "a#b@c"]) {
      expect(
        codeOf(() => parseClientIdentity(s)),
        s,
      ).toBe("INVALID_NAME");
    }
    expect(formatUserIdentity({ user: "a".repeat(64), domain: "x" })).toBe(`${"a".repeat(64)}@x`);
  });

  it("matches reference identifiers (RFC 9420 §5.3.1)", () => {
    const phone = parseClientIdentity("alice@example.com#phone");
    expect(matchesReference(phone, parseReferenceIdentifier("alice@example.com"))).toBe(true);
    expect(matchesReference(phone, parseReferenceIdentifier("alice@example.com#phone"))).toBe(true);
    expect(matchesReference(phone, parseReferenceIdentifier("alice@example.com#laptop"))).toBe(false);
    expect(matchesReference(phone, parseReferenceIdentifier("alice@example.org"))).toBe(false);
    expect(matchesReference(phone, parseReferenceIdentifier("bob@example.com"))).toBe(false);
    expect(codeOf(() => parseReferenceIdentifier("alice"))).toBe("INVALID_NAME");
    expect(codeOf(() => parseReferenceIdentifier("alice@"))).toBe("INVALID_NAME");
  });
});
