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
  ])("refuses %j, naming %j", (text, offending) => {
    expect(checkEmojiOnly(text)).toEqual({ ok: false, reason: "not-emoji", offending });
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
