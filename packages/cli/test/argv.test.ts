/**
 * Command-line parsing: group ids, secrets and messages may start with "-"
 * (base64url, free text) and must still be read as arguments, while unknown
 * options stay usage errors.
 */
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "../src/main.js";

const gid = (first: string) => `${first}${"A".repeat(43 - first.length)}`;

describe("parseCommandLine", () => {
  it("reads group ids and messages starting with '-' or '--' as positionals, in place", () => {
    const r = parseCommandLine(["send", gid("-x"), "-- not an option --", "--home", "/h"]);
    expect(r.positionals).toEqual(["send", gid("-x"), "-- not an option --"]);
    expect(r.values.home).toBe("/h");
    expect(parseCommandLine(["group", "add", gid("--"), "-bob"]).positionals).toEqual(["group", "add", gid("--"), "-bob"]);
  });

  it("takes a string option's value even when it starts with '-'", () => {
    const r = parseCommandLine(["register", "al", "pc", "--invite", "-token", "--server", "http://x"]);
    expect(r.values.invite).toBe("-token");
    expect(r.positionals).toEqual(["register", "al", "pc"]);
    expect(parseCommandLine(["register", "al", "pc", "--invite=-s"]).values.invite).toBe("-s");
  });

  it("keeps known short options and '--', and still rejects unknown long options", () => {
    expect(parseCommandLine(["listen", "-q"]).values.quiet).toBe(true);
    expect(parseCommandLine(["-h"]).values.help).toBe(true);
    expect(parseCommandLine(["send", "--", "--home"]).positionals).toEqual(["send", "--home"]);
    expect(() => parseCommandLine(["send", "--frobnicate"])).toThrow(/Unknown option/);
  });
});
