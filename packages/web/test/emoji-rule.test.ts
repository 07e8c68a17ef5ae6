/** The EmojisOnly rule (src/app/emojiRule.ts): what passes and what is refused, with the reason. */
import { describe, expect, it } from "vitest";
import { checkEmojiOnly, isEmojiOnly, MAX_EMOJIS, PALETTE } from "../src/app/emojiRule.js";

describe("the emoji rule", () => {
  it.each([
    ["🎉", ["🎉"]],
    ["👍🏽", ["👍🏽"]], // skin tone modifier: one emoji
    ["🇫🇷", ["🇫🇷"]], // flag: two regional indicators, one emoji
    ["👨‍👩‍👧", ["👨‍👩‍👧"]], // ZWJ family
    ["1️⃣", ["1️⃣"]], // keycap
    ["❤️ 🔥\n🌮", ["❤️", "🔥", "🌮"]],
    ["™️", ["™️"]], // text pictograph made emoji by U+FE0F
  ])("accepts %j", (text, emojis) => {
    expect(checkEmojiOnly(text)).toEqual({ ok: true, emojis });
  });

  it.each([
    ["hi", "h"],
    ["🎉a", "a"],
    ["1", "1"],
    ["#", "#"],
    ["©", "©"], // text presentation without U+FE0F
    ["😀\u200b", "\u200b"], // zero-width space smuggled after an emoji
    ["<script>", "<"],
    ["🎉\u202e", "\u202e"], // a bidi override after an emoji
  ])("refuses %j, naming %j", (text, offending) => {
    expect(checkEmojiOnly(text)).toEqual({ ok: false, reason: "not-emoji", offending });
  });

  it("refuses text smuggled inside an emoji's cluster: Unicode tag characters, stacked selectors", () => {
    // "hi" as invisible tag characters (U+E0068 U+E0069) glued to a grinning face: one grapheme, not an emoji.
    const tagged = "😀\u{E0068}\u{E0069}";
    expect(checkEmojiOnly(tagged)).toEqual({ ok: false, reason: "not-emoji", offending: tagged });
    expect(isEmojiOnly("🎉\uFE0F\uFE0F")).toBe(false);
    // A real RGI tag sequence (the flag of England) is an emoji.
    expect(isEmojiOnly("🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}")).toBe(true);
  });

  it("refuses empty or blank messages and more than MAX_EMOJIS emojis", () => {
    expect(checkEmojiOnly("")).toEqual({ ok: false, reason: "empty" });
    expect(checkEmojiOnly(" \n ")).toEqual({ ok: false, reason: "empty" });
    expect(isEmojiOnly("🐙".repeat(MAX_EMOJIS))).toBe(true);
    expect(checkEmojiOnly("🐙".repeat(MAX_EMOJIS + 1))).toEqual({ ok: false, reason: "too-long" });
  });

  it("every palette entry passes on its own", () => {
    for (const e of PALETTE) expect(checkEmojiOnly(e), e).toEqual({ ok: true, emojis: [e] });
    expect(new Set(PALETTE).size).toBe(PALETTE.length);
  });
});
