"""Charset and RFC 2047 decoding that never raises and stays linear in the input size."""

from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

__all__ = ["decode_bytes", "decode_rfc2047", "truncate_value", "unsurrogate"]

# Labels seen in real mail that Python does not know, or knows only as a strict subset.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "x-sjis": "shift_jis",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "windows-31j": "cp932",
    "x-mac-roman": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "windows-874": "cp874",
    "x-user-defined": "latin-1",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "ascii",
}
# Encodings that mail labelled with the key is often really written in.
_SIBLINGS = {
    "iso2022_jp": ("euc_jp", "cp932"),
    "euc_jp": ("cp932",),
    "cp932": ("euc_jp",),
    "big5": ("big5hkscs",),
    "cp1252": ("latin-1",),  # iso-8859-1 is read as cp1252, which leaves five bytes undefined
}
# Text codecs that are not mail charsets; punycode in particular decodes in quadratic time.
_REFUSED = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs"})

_DECODED_NON_ASCII = re.compile(r"[^\x00-\x7f\ufffd]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([QqBb])\?([^?\s]*)\?=")


@lru_cache(maxsize=256)
def _codec_name(charset: str) -> str | None:
    label = charset.strip().strip("\"'").lower()
    label = label.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    label = _ALIASES.get(label, label)
    if not label:
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    name = info.name
    if name in _REFUSED:
        return None
    try:
        b"".decode(name)  # bytes-to-bytes codecs (base64, zlib, ...) are refused here
    except LookupError:
        return None
    except Exception:
        return name
    return name


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode body or header bytes; returns (text, clean) where clean is False on any fallback."""
    declared = bool(charset and charset.strip())
    name = _codec_name(charset) if charset and declared else None
    if name is not None:
        try:
            return data.decode(name), True
        except Exception:
            pass
    try:
        # Undeclared UTF-8 is ordinary (SMTPUTF8, lazy mailers); an unknown or lying label is not.
        return data.decode("utf-8"), not declared
    except UnicodeDecodeError:
        pass
    for sibling in _SIBLINGS.get(name or "", ()):
        try:
            return data.decode(sibling), False
        except UnicodeDecodeError:
            pass
    if name is not None and name not in ("utf-8", "ascii"):
        try:
            return data.decode(name, errors="replace"), False
        except Exception:
            pass
    # Mostly-UTF-8 text with a few bad bytes keeps its characters; text with few valid UTF-8
    # sequences is far more likely to be an undeclared or mislabelled Windows-1252.
    decoded = data.decode("utf-8", errors="replace")
    sample = decoded[:65536]
    if len(_DECODED_NON_ASCII.findall(sample)) >= 4 * sample.count("\ufffd"):
        return decoded, False
    try:
        return data.decode("cp1252"), False
    except UnicodeDecodeError:
        return data.decode("latin-1"), False


def unsurrogate(value: str, charset: str | None = None) -> str:
    """Turn surrogate-escaped 8-bit bytes back into characters: UTF-8, else ``charset``, else cp1252."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return decode_bytes(raw, charset)[0]
    return value


def truncate_value(value: str, cap: int) -> str:
    """Cut a header value to at most ``cap`` characters, preferably at a separator."""
    if len(value) <= cap:
        return value
    cut = value[:cap]
    split_at = max(cut.rfind(","), cut.rfind(" "), cut.rfind("\t"))
    if split_at > cap // 2:
        cut = cut[:split_at]
    return cut


def _word_bytes(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "Qq":
            return binascii.a2b_qp(text.encode("utf-8", "surrogateescape"), header=True)
        stripped = text.rstrip("=")
        if len(stripped) % 4 == 1:
            stripped = stripped[:-1]
        return binascii.a2b_base64(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_rfc2047(value: str, charset: str | None = None) -> str:
    """Decode RFC 2047 encoded words, joining adjacent words so split multibyte characters survive.

    Surrogate-escaped raw 8-bit text outside encoded words is decoded as UTF-8, else ``charset``.
    """
    if "=?" not in value:
        return unsurrogate(value, charset)
    out: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            out.append(decode_bytes(bytes(pending), pending_charset)[0])
            pending.clear()
            pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047 section 6.2).
        if between and not (pending_charset is not None and between.isspace()):
            flush()
            out.append(unsurrogate(between, charset))
        pos = match.end()
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            flush()
            out.append(unsurrogate(match.group(0), charset))
            continue
        charset = match.group(1).split("*", 1)[0].lower()
        if charset != pending_charset:
            flush()
            pending_charset = charset
        pending += data
    flush()
    out.append(unsurrogate(value[pos:], charset))
    return "".join(out)
