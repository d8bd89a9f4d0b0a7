"""Full, defensive MIME parse: bodies, attachments and problems, never raising on any input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from postroom.mime.encoding import decode_bytes, decode_rfc2047
from postroom.mime.filenames import default_filename, safe_filename
from postroom.mime.headers import HeaderSummary, charset_hint, parse_headers, split_header_block, summarise
from postroom.mime.limits import DEFAULT_LIMITS, ParseLimits
from postroom.mime.structure import parse_structure
from postroom.mime.text import html_to_text, make_snippet
from postroom.mime.tree import Leaf, estimated_size, leaf_bytes

__all__ = ["ParsedMessage", "Part", "extract_part", "parse_message"]

_CID_REF = re.compile(r"""cid:([^"'\s<>)]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Part:
    """A leaf part offered as an attachment or inline (cid:) resource.

    ``index`` is the leaf number (from 1, depth first) that ``extract_part`` takes; ``filename`` is
    always safe and non-empty; ``size`` is the decoded size; ``is_inline`` is True when the HTML
    refers to the part by cid: or it is disposition inline with a Content-ID.
    """

    index: int
    filename: str
    content_type: str
    size: int
    content_id: str | None
    disposition: str
    is_inline: bool


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A whole message: decoded headers in order, text and HTML bodies, attachments and flags.

    ``text`` joins the text/plain body parts, or renders the HTML when there are none.
    """

    summary: HeaderSummary
    headers: tuple[tuple[str, str], ...]
    text: str
    html: str
    attachments: tuple[Part, ...]
    flags: tuple[str, ...]
    snippet: str


def _is_body(leaf: Leaf) -> bool:
    if leaf.content_type not in ("text/plain", "text/html") or leaf.disposition == "attachment":
        return False
    return leaf.filename is None or leaf.in_alternative or leaf.is_root


def _decode_text(leaf: Leaf, data: bytes, flags: list[str]) -> str:
    text, clean = decode_bytes(data, leaf.charset)
    if not clean and "undecodable-charset" not in flags:
        flags.append("undecodable-charset")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _cid_refs(html: str) -> set[str]:
    return {unquote(ref).strip("<>").lower() for ref in _CID_REF.findall(html)}


def _make_part(leaf: Leaf, data: bytes | None, size: int, cid_refs: set[str]) -> Part:
    cid = leaf.content_id
    is_inline = cid is not None and (cid.lower() in cid_refs or leaf.disposition == "inline")
    fallback = default_filename(leaf.index, leaf.content_type)
    name = leaf.filename
    if name is None and leaf.content_type in ("message/rfc822", "message/global") and data:
        subject = parse_headers(data).subject
        if subject:
            name = f"{subject}.eml"
    return Part(
        index=leaf.index,
        filename=safe_filename(name, fallback=fallback) if name else fallback,
        content_type=leaf.content_type,
        size=size,
        content_id=cid,
        disposition="inline" if is_inline or leaf.disposition == "inline" else "attachment",
        is_inline=is_inline,
    )


def _may_be_deep(raw: bytes, limits: ParseLimits) -> bool:
    return raw.lower().count(b"multipart/") > limits.max_depth


def _long_lines(raw: bytes) -> bool:
    return any(len(line) > 998 for line in raw.splitlines())


def _best_effort_text(raw: bytes) -> str:
    text, _ = decode_bytes(raw, None)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _parse(raw: bytes, limits: ParseLimits) -> ParsedMessage:
    block = split_header_block(raw, limits)
    summary = summarise(block.fields, list(block.flags), limits)
    charset = charset_hint(block.fields) if "8bit-headers" in block.flags else None
    headers = tuple((name, decode_rfc2047(value, charset)) for name, value in block.fields)
    flags = list(summary.flags)
    if _long_lines(raw):
        flags.append("long-lines")
    structure = parse_structure(raw, limits)
    if structure is None:
        text = _best_effort_text(raw)
        flags.append("parse-error")
        if _may_be_deep(raw, limits):
            flags.append("mime-depth-exceeded")
        return ParsedMessage(
            summary=summary,
            headers=headers,
            text=text,
            html="",
            attachments=(),
            flags=tuple(dict.fromkeys(flags)),
            snippet=make_snippet(text, limits.snippet_chars),
        )
    flags.extend(structure.flags)
    texts: list[str] = []
    htmls: list[str] = []
    others: list[tuple[Leaf, bytes | None]] = []
    for leaf in structure.leaves:
        data = _safe_leaf_bytes(leaf, limits, structure.linesep)
        if data is None:
            flags.append("part-too-large")
        if _is_body(leaf):
            if data is not None:
                target = htmls if leaf.content_type == "text/html" else texts
                target.append(_decode_text(leaf, data, flags))
            continue
        others.append((leaf, data))
    html = "\n".join(htmls)
    text = "\n".join(texts)
    if not text.strip() and html:
        text = html_to_text(html[: limits.max_html_render_chars])
    elif not text.strip():
        # A named text/plain part without Content-Disposition is the only readable text (common in
        # bounces): show it as the text too, and keep it listed as an attachment.
        for leaf, data in others:
            if leaf.content_type == "text/plain" and leaf.disposition is None and data:
                text = _decode_text(leaf, data, flags)
                break
    cid_refs = _cid_refs(html) if html else set()
    attachments = tuple(
        _make_part(leaf, data, len(data) if data is not None else estimated_size(leaf), cid_refs)
        for leaf, data in others
    )
    return ParsedMessage(
        summary=summary,
        headers=headers,
        text=text,
        html=html,
        attachments=attachments,
        flags=tuple(dict.fromkeys(flags)),
        snippet=make_snippet(text, limits.snippet_chars),
    )


def _safe_leaf_bytes(leaf: Leaf, limits: ParseLimits, linesep: str) -> bytes | None:
    try:
        return leaf_bytes(leaf, limits, linesep)
    except Exception:
        return b""


def parse_message(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedMessage:
    """Parse a whole message. Never raises: problems are reported in ``flags``."""
    try:
        return _parse(raw, limits)
    except Exception:
        summary = parse_headers(raw, limits) if isinstance(raw, bytes) else parse_headers(b"", limits)
        text = _best_effort_text(raw) if isinstance(raw, bytes) else ""
        return ParsedMessage(
            summary=summary,
            headers=(),
            text=text,
            html="",
            attachments=(),
            flags=tuple(dict.fromkeys((*summary.flags, "parse-error"))),
            snippet=make_snippet(text, limits.snippet_chars),
        )


def extract_part(raw: bytes, index: int, limits: ParseLimits = DEFAULT_LIMITS) -> tuple[Part, bytes] | None:
    """Decoded bytes of leaf part ``index`` (numbered from 1 as in ``Part.index``).

    Returns None when there is no such part, or when it is larger than ``limits.max_part_bytes``
    (pass larger limits to fetch it anyway). Never raises.
    """
    try:
        structure = parse_structure(raw, limits)
        if structure is None or not 1 <= index <= len(structure.leaves):
            return None
        leaf = structure.leaves[index - 1]
        data = _safe_leaf_bytes(leaf, limits, structure.linesep)
        if data is None:
            return None
        scratch: list[str] = []
        html = "\n".join(
            _decode_text(other, other_data, scratch)
            for other in structure.leaves
            if other.content_type == "text/html" and _is_body(other)
            for other_data in (_safe_leaf_bytes(other, limits, structure.linesep),)
            if other_data is not None
        )
        return _make_part(leaf, data, len(data), _cid_refs(html)), data
    except Exception:
        return None
