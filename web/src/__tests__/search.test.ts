import { applySuggestion, currentToken, suggest } from "../search";

describe("search suggestions", () => {
  it("offers the operators that complete the word at the caret", () => {
    expect(suggest("sub", 3).map((o) => o.key)).toEqual(["subject:"]);
    expect(suggest("is:", 3).map((o) => o.key)).toEqual(["is:unread", "is:read"]);
    expect(suggest("hello a", 7).map((o) => o.key)).toEqual(["after:"]);
  });

  it("is quiet once the operator is typed in full, and on an empty word", () => {
    expect(suggest("subject:", 8)).toEqual([]);
    expect(suggest("from: ", 6)).toEqual([]);
    expect(suggest("", 0)).toEqual([]);
  });

  it("completes negated operators and known tags", () => {
    expect(suggest("-has", 4).map((o) => o.key)).toEqual(["has:attachment"]);
    expect(suggest("tag:si", 6, ["signup", "billing", "Sign-in"]).map((o) => o.key)).toEqual([
      "tag:signup",
      "tag:Sign-in",
    ]);
  });

  it("treats a quoted phrase as one word", () => {
    expect(currentToken('subject:"big ne', 15)).toEqual({ start: 0, end: 15, word: 'subject:"big ne' });
  });

  it("replaces only the word at the caret and puts the caret after the completion", () => {
    expect(applySuggestion("from:ann sub tag:x", 12, "subject:")).toEqual({
      text: "from:ann subject:tag:x",
      caret: 17,
    });
    expect(applySuggestion("is:u", 4, "is:unread")).toEqual({ text: "is:unread ", caret: 10 });
    expect(applySuggestion("-ha", 3, "has:attachment")).toEqual({ text: "-has:attachment ", caret: 16 });
  });
});
