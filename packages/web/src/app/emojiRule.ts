/**
 * The one rule of EmojisOnly: a message is one or more emojis (whitespace
 * between them allowed), nothing else. It lives in the app, not the DS, which
 * sees only ciphertext (RFC 9750 §5: the DS cannot read messages): the
 * composer refuses other text, and a receiving client drops and reports a
 * message that breaks the rule, whoever's client sent it.
 */

/** At most this many emojis in one message. */
export const MAX_EMOJIS = 32;

// Built at run time: the /v flag (RGI_Emoji, whole emoji sequences) postdates the TS target.
// biome-ignore lint/complexity/useRegexLiterals: a /v literal does not compile for ES2022
const RGI_EMOJI = new RegExp("^\\p{RGI_Emoji}$", "v");
/** A pictograph shown as an emoji (not RGI as a sequence): emoji by default, or made one by U+FE0F; "©" alone is text. */
const PICTOGRAPH = /^(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F)$/u;
const SPACE = /^\s+$/u;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

export type EmojiVerdict =
  { readonly ok: true; readonly emojis: readonly string[] } | { readonly ok: false; readonly reason: "empty" | "not-emoji" | "too-long"; readonly offending?: string };

/** Splits `text` into user-perceived characters and checks each is an emoji. */
export function checkEmojiOnly(text: string): EmojiVerdict {
  const emojis: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    if (SPACE.test(segment)) continue;
    if (!RGI_EMOJI.test(segment) && !PICTOGRAPH.test(segment)) return { ok: false, reason: "not-emoji", offending: segment };
    emojis.push(segment);
    if (emojis.length > MAX_EMOJIS) return { ok: false, reason: "too-long" };
  }
  return emojis.length === 0 ? { ok: false, reason: "empty" } : { ok: true, emojis };
}

export const isEmojiOnly = (text: string): boolean => checkEmojiOnly(text).ok;

/** The composer's palette: a few rows a person reaches for. */
export const PALETTE: readonly string[] = [
  "😀",
  "😂",
  "🥹",
  "😍",
  "😎",
  "🤔",
  "😴",
  "😭",
  "😡",
  "🤯",
  "👍",
  "👎",
  "👏",
  "🙏",
  "💪",
  "👋",
  "🤝",
  "✌️",
  "🫶",
  "👀",
  "❤️",
  "🔥",
  "✨",
  "🎉",
  "💯",
  "✅",
  "❌",
  "⭐",
  "🌈",
  "☕",
  "🍕",
  "🌮",
  "🍣",
  "🍺",
  "🎂",
  "🐶",
  "🐱",
  "🐙",
  "🦄",
  "🚀",
];
