"""Size and shape limits shared by the header and full MIME parsers."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "ParseLimits"]


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds that keep parsing linear and memory-bounded on hostile input."""

    # One header value (after unfolding) is truncated beyond this many characters.
    max_header_bytes: int = 64 * 1024
    # The header block is searched for its end only this far into the message.
    max_header_block_bytes: int = 4 * 1024 * 1024
    # Header fields kept per message.
    max_headers: int = 2000
    # Address-header text read per message (From, To, Cc, Bcc, Reply-To together), and the part of
    # it that may go to email.utils.getaddresses (~3 us a character) when the fast path cannot
    # read a mailbox; the rest is dropped and flagged "header-too-long".
    max_address_list_bytes: int = 1024 * 1024
    max_address_bytes: int = 64 * 1024
    # Nesting depth of multipart containers that is still descended into.
    max_depth: int = 32
    # Leaf parts collected per message.
    max_parts: int = 1000
    # Decoded size beyond which a part's body is skipped.
    max_part_bytes: int = 50 * 1024 * 1024
    # HTML beyond this many characters is not rendered to text (html.parser is not linear on junk).
    max_html_render_chars: int = 2 * 1024 * 1024
    snippet_chars: int = 200


DEFAULT_LIMITS = ParseLimits()
