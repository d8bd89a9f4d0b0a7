// The inbox's search language, as the API parses it (src/postroom/store/query.py), and the
// suggestions the search box offers while typing.

export interface Operator {
  key: string;
  example: string;
  help: string;
}

export const OPERATORS: Operator[] = [
  { key: "from:", example: "from:alice@example.com", help: "sender name or address" },
  { key: "to:", example: "to:bob@example.com", help: "To, Cc, Bcc or envelope recipient" },
  { key: "subject:", example: 'subject:"password reset"', help: "words in the subject" },
  { key: "tag:", example: "tag:signup", help: "messages with this tag" },
  { key: "has:attachment", example: "has:attachment", help: "with attachments" },
  { key: "is:unread", example: "is:unread", help: "not read yet" },
  { key: "is:read", example: "is:read", help: "already read" },
  { key: "before:", example: "before:2026-01-31", help: "received before a date" },
  { key: "after:", example: "after:2026-01-01", help: "received after a date" },
  { key: "message-id:", example: "message-id:<id@host>", help: "the Message-ID header" },
];

/** The word the caret is in: [start, end) in ``text``, respecting quotes. */
export function currentToken(text: string, caret: number): { start: number; end: number; word: string } {
  let start = 0;
  let quoted = false;
  for (let i = 0; i < caret; i += 1) {
    if (text[i] === '"') quoted = !quoted;
    if (!quoted && /\s/.test(text[i])) start = i + 1;
  }
  let end = caret;
  while (end < text.length && !/\s/.test(text[end])) end += 1;
  return { start, end, word: text.slice(start, caret) };
}

/** Operators that complete the word at the caret; none once an operator has its value. */
export function suggest(text: string, caret: number, tags: string[] = []): Operator[] {
  const { word } = currentToken(text, caret);
  const bare = word.replace(/^[-!]/, "").toLowerCase();
  if (bare.startsWith("tag:")) {
    const prefix = bare.slice(4);
    return tags
      .filter((tag) => tag.toLowerCase().startsWith(prefix) && tag.toLowerCase() !== prefix)
      .slice(0, 8)
      .map((tag) => ({ key: `tag:${tag}`, example: `tag:${tag}`, help: "tag" }));
  }
  if (!bare) return [];
  return OPERATORS.filter((op) => op.key.startsWith(bare) && op.key !== bare);
}

/** ``text`` with the word at the caret replaced by ``completion``; the new caret follows it. */
export function applySuggestion(text: string, caret: number, completion: string): { text: string; caret: number } {
  const { start, end, word } = currentToken(text, caret);
  const negation = /^[-!]/.test(word) ? word[0] : "";
  const spacer = completion.endsWith(":") ? "" : " ";
  const before = text.slice(0, start) + negation + completion + spacer;
  const after = text.slice(end).replace(/^\s+/, "");
  return { text: before + after, caret: before.length };
}
