"""Walking a parsed email.message tree into numbered leaf parts and decoding their bodies."""

from __future__ import annotations

import binascii
import io
import quopri
from dataclasses import dataclass
from email import errors
from email.generator import BytesGenerator
from email.message import Message
from email.policy import EmailPolicy

from postroom.mime.encoding import decode_rfc2047, unsurrogate
from postroom.mime.limits import ParseLimits

__all__ = ["Leaf", "collect_leaves", "estimated_size", "leaf_bytes", "raw_header"]

_BOUNDARY_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
)


@dataclass(slots=True)
class Leaf:
    """A non-multipart part; message/* parts are leaves too (an attached .eml is not descended into)."""

    index: int
    node: Message
    content_type: str
    filename: str | None
    disposition: str | None
    content_id: str | None
    charset: str | None
    in_alternative: bool
    is_root: bool


def raw_header(node: Message, name: str) -> str | None:
    """First value of header ``name`` as it was in the source, without policy parsing."""
    wanted = name.lower()
    for key, value in node.raw_items():
        if key.lower() == wanted:
            return unsurrogate(str(value))
    return None


def _filename(node: Message) -> str | None:
    # Parameters are read from the raw values through a compat32 Message: policy.default (and
    # compat32 on surrogate-escaped input) replaces 8-bit bytes in names with U+FFFD.
    helper = Message()
    for header in ("Content-Disposition", "Content-Type"):
        value = raw_header(node, header)
        if value is not None:
            helper[header] = value
    name = helper.get_filename()
    if name is None:
        return None
    name = unsurrogate(str(name))
    if "=?" in name:
        name = decode_rfc2047(name)
    return name.strip() or None


def _content_id(node: Message) -> str | None:
    value = raw_header(node, "Content-ID")
    if value is None:
        return None
    value = value.strip().strip("<>").strip()
    return value or None


def _charset(node: Message) -> str | None:
    charset = node.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = charset[2]
    return unsurrogate(charset) if isinstance(charset, str) else None


def _make_leaf(node: Message, index: int, in_alternative: bool, is_root: bool, flags: list[str]) -> Leaf:
    content_type = node.get_content_type().lower()
    if content_type.startswith("multipart/"):
        # A multipart without usable boundary: show its content as text rather than lose it.
        if "missing-boundary" not in flags:
            flags.append("missing-boundary")
        content_type = "text/plain"
    disposition = node.get_content_disposition()
    if disposition not in ("inline", "attachment"):
        disposition = None
    return Leaf(
        index=index,
        node=node,
        content_type=content_type,
        filename=_filename(node),
        disposition=disposition,
        content_id=_content_id(node),
        charset=_charset(node),
        in_alternative=in_alternative,
        is_root=is_root,
    )


def collect_leaves(root: Message, limits: ParseLimits, flags: list[str]) -> list[Leaf]:
    """Leaves in depth-first order, numbered from 1; bounded by max_depth and max_parts."""
    leaves: list[Leaf] = []
    stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
    defects = False
    while stack:
        node, depth, in_alternative = stack.pop()
        for defect in node.defects:
            defects = True
            if isinstance(defect, _BOUNDARY_DEFECTS) and "missing-boundary" not in flags:
                flags.append("missing-boundary")
        payload = node.get_payload()
        if isinstance(payload, list) and node.get_content_maintype() != "message":
            if depth >= limits.max_depth:
                if "mime-depth-exceeded" not in flags:
                    flags.append("mime-depth-exceeded")
                continue
            alternative = node.get_content_type() == "multipart/alternative"
            stack.extend((child, depth + 1, alternative) for child in reversed(payload) if isinstance(child, Message))
            continue
        if len(leaves) >= limits.max_parts:
            flags.append("too-many-parts")
            break
        leaves.append(_make_leaf(node, len(leaves) + 1, in_alternative, node is root, flags))
    if defects:
        flags.append("defects")
    return leaves


def _generated_body(node: Message, linesep: str) -> bytes:
    """Bytes of a message/* part's body as re-serialised by the email generator."""
    policy = EmailPolicy(
        refold_source="none", linesep=linesep, cte_type="8bit", max_line_length=0, message_factory=Message
    )
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(node, linesep=linesep)
    data = buffer.getvalue()
    newline = linesep.encode("ascii")
    if data.startswith(newline):
        body = data[len(newline) :]
    else:
        end = data.find(newline + newline)
        body = b"" if end < 0 else data[end + 2 * len(newline) :]
    # An empty attached message still serialises as its blank header/body separator.
    return body if body.strip() else b""


def _transfer_decode(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        compact = b"".join(data.split())
        compact = compact.rstrip(b"=")
        if len(compact) % 4 == 1:
            compact = compact[:-1]
        try:
            return binascii.a2b_base64(compact + b"=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            return data
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _estimated_size(encoded: int, encoding: str) -> int:
    return encoded * 3 // 4 if encoding == "base64" else encoded


def estimated_size(leaf: Leaf) -> int:
    """Decoded size guessed from the encoded body, for parts too large to decode."""
    payload = leaf.node.get_payload()
    if not isinstance(payload, str | bytes):
        return 0
    encoding = (raw_header(leaf.node, "Content-Transfer-Encoding") or "").strip().lower()
    return _estimated_size(len(payload), encoding)


def leaf_bytes(leaf: Leaf, limits: ParseLimits, linesep: str) -> bytes | None:
    """Transfer-decoded body of ``leaf``; None when it is larger than limits.max_part_bytes."""
    node = leaf.node
    encoding = (raw_header(node, "Content-Transfer-Encoding") or "").strip().lower()
    payload = node.get_payload()
    if isinstance(payload, list):
        data = _generated_body(node, linesep)
        if _estimated_size(len(data), encoding) > limits.max_part_bytes:
            return None
        return _transfer_decode(data, encoding)
    if isinstance(payload, str | bytes) and _estimated_size(len(payload), encoding) > limits.max_part_bytes:
        return None
    decoded = node.get_payload(decode=True)
    if not isinstance(decoded, bytes):
        return b""
    if len(decoded) > limits.max_part_bytes:
        return None
    return decoded
