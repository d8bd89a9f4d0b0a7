"""Plain-text rendering of HTML bodies and short previews, using only html.parser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "make_snippet"]

# Elements that start a new paragraph (blank line) or just a new line.
_PARAGRAPH = frozenset(
    {"blockquote", "dl", "fieldset", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre"}
    | {"table", "ul"}
)
_LINE = frozenset(
    {"address", "article", "aside", "center", "dd", "div", "dt", "figcaption", "footer", "form", "header"}
    | {"li", "main", "nav", "section", "tbody", "tfoot", "thead", "tr"}
)
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "xml"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_LABEL_WINDOW = 64  # link text longer than this many chunks is never compared with the URL


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.breaks = 2  # newlines at the end of the output (the start counts as a paragraph break)
        self.skip_depth = 0
        self.pre_depth = 0
        self.links: list[tuple[str, int]] = []  # (href, index in out where the link text starts)

    def emit(self, text: str) -> None:
        if not text:
            return
        self.out.append(text)
        stripped = text.rstrip(" ")
        if not stripped:
            return
        trailing = len(stripped) - len(stripped.rstrip("\n"))
        self.breaks = self.breaks + trailing if trailing == len(stripped) else trailing

    def ensure_breaks(self, count: int) -> None:
        if self.breaks < count:
            self.emit("\n" * (count - self.breaks))

    def label_since(self, start: int) -> str:
        if len(self.out) - start > _LABEL_WINDOW:
            return "..."  # long link text: never equal to the URL, and not worth joining
        return " ".join("".join(self.out[start:]).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "br":
            self.emit("\n")
        elif tag in _PARAGRAPH:
            self.ensure_breaks(2)
            if tag == "pre":
                self.pre_depth += 1
        elif tag in _LINE:
            self.ensure_breaks(1)
            if tag == "li":
                self.emit("- ")
        elif tag in ("td", "th") and not self.breaks:
            self.emit(" ")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.links.append((href, len(self.out)))
        elif tag == "img":
            alt = " ".join((dict(attrs).get("alt") or "").split())
            if alt:
                self.emit(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _SKIP:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth:
            return
        if tag in _PARAGRAPH:
            self.ensure_breaks(2)
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
        elif tag in _LINE:
            self.ensure_breaks(1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            if not href or href.lower().startswith(("javascript:", "#")):
                return
            label = self.label_since(start)
            if not label:
                self.emit(href)
            elif label != href and label != href.removeprefix("mailto:"):
                self.emit(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            self.emit(data)
            return
        text = _SPACES.sub(" ", data)
        if self.breaks and text.startswith(" "):
            text = text[1:]
        self.emit(text)


def _defuse(html: str) -> str:
    """Escape every ``<`` that does not open a construct closed before the next ``<``.

    html.parser rescans to the end of the input for each unterminated tag or comment, which is
    quadratic (minutes for 150 KB of ``<a ``); after this pass every construct it sees is closed.
    """
    out: list[str] = []
    pos = 0
    size = len(html)
    next_gt = -1  # cached position of the next ">" (size when there is none)
    comment_end = -1  # cached position of the next "-->" (size when there is none)
    while pos < size:
        lt = html.find("<", pos)
        if lt < 0:
            out.append(html[pos:])
            break
        out.append(html[pos:lt])
        if html.startswith("<!--", lt):
            if comment_end < lt + 4:
                found = html.find("-->", lt + 4)
                comment_end = size if found < 0 else found
            if comment_end < size:
                out.append(html[lt : comment_end + 3])
                pos = comment_end + 3
                continue
        else:
            if next_gt <= lt:
                found = html.find(">", lt + 1)
                next_gt = size if found < 0 else found
            following = html.find("<", lt + 1, next_gt)
            if next_gt < size and following < 0:
                out.append(html[lt : next_gt + 1])
                pos = next_gt + 1
                continue
        out.append("&lt;")
        pos = lt + 1
    return "".join(out)


def html_to_text(html: str) -> str:
    """Render HTML as readable plain text; links become ``text (url)``. Never raises."""
    renderer = _Renderer()
    try:
        renderer.feed(_defuse(html))
        renderer.close()
    except Exception:
        pass
    lines = [line.rstrip() for line in "".join(renderer.out).split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n").strip()


def make_snippet(text: str, limit: int = 200) -> str:
    """First ``limit`` characters of ``text`` with all whitespace collapsed."""
    collapsed = " ".join(text[: limit * 8].split())
    if len(collapsed) > limit:
        collapsed = collapsed[:limit].rstrip()
    return collapsed
