import { extractLinks, hasRemoteImages, splitRaw } from "../message";

describe("extractLinks", () => {
  it("lists HTML and plain-text links once each, marking scripted ones unsafe", () => {
    const html = `<p><a href="https://a.test/x">Open  <b>it</b></a>
      <a href="javascript:alert(1)">bad</a><a href="#top">top</a><a href="https://a.test/x">again</a>
      <img src="x" onerror="window.__ran = true"></p>`;
    const links = extractLinks(html, "See https://b.test/y. Or mailto: nothing");
    expect(links).toEqual([
      { href: "https://a.test/x", text: "Open it", unsafe: false },
      { href: "javascript:alert(1)", text: "bad", unsafe: true },
      { href: "https://b.test/y", text: "", unsafe: false },
    ]);
    // Parsing the HTML ran nothing from it.
    expect((window as unknown as { __ran?: boolean }).__ran).toBeUndefined();
  });
});

describe("hasRemoteImages", () => {
  it("spots images and backgrounds from other hosts", () => {
    expect(hasRemoteImages('<img src="https://t.test/p.gif">')).toBe(true);
    expect(hasRemoteImages("<div style=\"background:url('//cdn.test/b.png')\">")).toBe(true);
    expect(hasRemoteImages('<td background="http://x.test/bg.jpg">')).toBe(true);
  });
  it("ignores inline and embedded images and plain links", () => {
    expect(hasRemoteImages('<img src="cid:logo"><img src="data:image/png;base64,AA==">')).toBe(false);
    expect(hasRemoteImages('<a href="https://a.test">x</a>')).toBe(false);
  });
});

describe("splitRaw", () => {
  it("separates header names, folded lines and the body", () => {
    const lines = splitRaw("Subject: Hi\r\nTo: a@b.test,\r\n c@d.test\r\n\r\nBody: not a header\r\n");
    expect(lines.map((l) => l.kind)).toEqual([
      "header-name",
      "header-name",
      "header-continuation",
      "body",
      "body",
      "body",
    ]);
    expect(lines[0]).toEqual({ kind: "header-name", name: "Subject", value: " Hi" });
    expect(lines[4]).toEqual({ kind: "body", value: "Body: not a header" });
  });
});
