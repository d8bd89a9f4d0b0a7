"""Attachment file names that are safe to show, store and offer for download."""

from __future__ import annotations

import mimetypes
import re
import unicodedata

__all__ = ["default_filename", "safe_filename"]

_MAX_LENGTH = 200
_MAX_SUFFIX = 16
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"|?*\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]')
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"com{n}" for n in "123456789¹²³"}
    | {f"lpt{n}" for n in "123456789¹²³"}
)
# Stable extensions for common types; mimetypes answers differ between systems.
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "text/x-vcard": ".vcf",
    "text/vcard": ".vcf",
    "text/rfc822-headers": ".txt",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/svg+xml": ".svg",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/json": ".json",
    "application/msword": ".doc",
    "application/octet-stream": ".bin",
    "application/pgp-signature": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/ms-tnef": ".dat",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "message/feedback-report": ".txt",
}


def _shorten(name: str) -> str:
    if len(name) <= _MAX_LENGTH:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and 0 < len(suffix) < _MAX_SUFFIX:
        return stem[: _MAX_LENGTH - len(suffix) - 1].rstrip(" .") + "." + suffix
    return name[:_MAX_LENGTH].rstrip(" .")


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """Reduce ``name`` to a plain file name: no directories, controls, leading dots or device names."""
    name = unicodedata.normalize("NFC", name)
    # Keep the last path component whichever OS separator the sender used.
    name = re.split(r"[/\\]", name)[-1]
    name = " ".join(_UNSAFE.sub("", " ".join(name.split())).split())
    name = name.lstrip(". ").rstrip(". ")
    stem = name.split(".", 1)[0].rstrip(" ").lower()
    if stem in _WINDOWS_RESERVED:
        name = "_" + name
    name = _shorten(name)
    if name:
        return name
    if fallback and fallback != name:
        return safe_filename(fallback, fallback="")
    return "attachment"


def default_filename(index: int, content_type: str) -> str:
    """Name for a part that declares none, e.g. ``part-3.png``."""
    extension = _EXTENSIONS.get(content_type)
    if extension is None:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"part-{index}{extension}"
