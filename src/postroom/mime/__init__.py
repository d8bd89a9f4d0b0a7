"""MIME parsing for Postroom: a fast header summary for ingest and a full, defensive parse."""

from postroom.mime.addresses import Address
from postroom.mime.filenames import safe_filename
from postroom.mime.headers import HeaderSummary, parse_headers
from postroom.mime.limits import DEFAULT_LIMITS, ParseLimits
from postroom.mime.parse import ParsedMessage, Part, extract_part, parse_message
from postroom.mime.text import html_to_text

__all__ = [
    "DEFAULT_LIMITS",
    "Address",
    "HeaderSummary",
    "ParseLimits",
    "ParsedMessage",
    "Part",
    "extract_part",
    "html_to_text",
    "parse_headers",
    "parse_message",
    "safe_filename",
]
