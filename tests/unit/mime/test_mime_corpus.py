"""Every message in the shared real-mail corpora parses, and decoded parts match the upstream oracles.

The corpora are read in place (see ../shared/corpus/SOURCES.md); nothing from them is copied here.
"""

from __future__ import annotations

import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from postroom.mime import DEFAULT_LIMITS, Part, extract_part, parse_headers, parse_message
from postroom.mime.structure import parse_structure

REPO = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("POSTROOM_CORPUS", REPO.parent / "shared" / "corpus"))

if not CORPUS.is_dir():
    pytest.skip(f"mail corpus not found at {CORPUS} (set POSTROOM_CORPUS)", allow_module_level=True)

NOT_MESSAGES = {".json", ".xml", ".out", ".md", ".dns", ".key", ".pem", ".private", ".png", ".doc", ".dat"}
NOT_MESSAGE_NAMES = ("README", "COPYING", "LICENSE", "SOURCES")


def is_message(path: Path) -> bool:
    rel = path.relative_to(CORPUS)
    if path.suffix.lower() in NOT_MESSAGES or "_decoded" in path.name:
        return False
    if path.name.upper().startswith(NOT_MESSAGE_NAMES) or "files" in rel.parts[:-1]:
        return False
    if rel.parts[0] == "imaptest-tests" and path.suffix != ".mbox":
        return False  # the extension-less files there are IMAP test scripts
    # dkimpy's .txt files are DNS TXT records (its messages are .msg/.message/.mbox).
    return not (rel.parts[0] == "dkimpy-testdata" and path.suffix == ".txt")


FOLDERS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def messages_in(folder: str) -> list[Path]:
    return sorted(p for p in (CORPUS / folder).rglob("*") if p.is_file() and is_message(p))


def has_subject(raw: bytes) -> bool:
    # Independent oracle: what the stdlib's compat32 parser sees as the Subject.
    value = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True).get("Subject")
    return value is not None and bool(str(value).strip())


def has_content(node: Message) -> bool:
    payload = node.get_payload()
    if isinstance(payload, list):
        return any(sub.items() or has_content(sub) for sub in payload if isinstance(sub, Message))
    return isinstance(payload, str) and bool(payload.strip())


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_message_parses(folder: str) -> None:
    paths = messages_in(folder)
    assert paths, f"no messages found in {folder}"
    for path in paths:
        raw = path.read_bytes()
        summary = parse_headers(raw)
        parsed = parse_message(raw)
        assert parsed.summary == summary, path
        if has_subject(raw):
            assert summary.subject, path
        assert "parse-error" not in parsed.flags, path
        structure = parse_structure(raw, DEFAULT_LIMITS)
        assert structure is not None, path
        leaves = {leaf.index: leaf for leaf in structure.leaves}
        for part in parsed.attachments:
            found = extract_part(raw, part.index)
            assert found is not None, (path, part)
            assert found[0] == part, path
            assert part.size == len(found[1]), (path, part)
            if part.size == 0:
                assert not has_content(leaves[part.index].node), (path, part)


def test_corpus_is_substantial() -> None:
    assert sum(len(messages_in(folder)) for folder in FOLDERS) >= 800


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _normalise_text(data: bytes) -> bytes:
    return re.sub(rb"\r*\n|\r", b"\n", data).rstrip(b"\n")


def _leaves(raw: bytes) -> list[tuple[Part, bytes]]:
    found: list[tuple[Part, bytes]] = []
    index = 1
    while (result := extract_part(raw, index)) is not None:
        found.append(result)
        index += 1
    return found


HUNNYSOFT = CORPUS / "hunnysoft-samples-via-zbateson"


def test_hunnysoft_attachments_match_original_files() -> None:
    originals = {_fold(p.name): p.read_bytes() for p in (HUNNYSOFT / "files").iterdir()}
    exact = lenient = 0
    for path in sorted(HUNNYSOFT.glob("*.txt")):
        for part, data in _leaves(path.read_bytes()):
            original = originals.get(_fold(part.filename))
            if original is None:
                continue
            if part.content_type == "application/mac-binhex40":
                continue  # BinHex 4.0 (m2011.txt): the stdlib lost its decoder in 3.11
            if data == original:
                exact += 1
                continue
            # m0022's final CRLF is part of the boundary delimiter, and m3004 carries CR CR LF line
            # ends; text attachments are compared with line ends normalised.
            assert part.content_type.startswith("text/"), (path.name, part)
            assert _normalise_text(data) == _normalise_text(original), (path.name, part)
            lenient += 1
    assert exact >= 60
    assert exact + lenient >= 70


MIME4J = CORPUS / "mime4j-testmsgs"

# Where mime4j's expected bodies follow a reading that email.parser (which we build on) does not.
MIME4J_DIVERGENT = {
    "basic-plain-with-bad-header-separator.msg": "whitespace-only line is a fold for email.parser",
    "ending-boundaries.msg": "email.parser wants nothing but blanks after a boundary on its line",
    "malformedHeader-nocrlfcrlf.msg": "mime4j run in its skip-bad-header-lines mode",
    "malformedHeader-noheader.msg": "mime4j run in its skip-bad-header-lines mode",
    "malformedHeaderStartsBody-nocrlfcrlf.msg": "mime4j drops a header-looking line from the body",
    "malformedHeaderStartsBody-noheader.msg": "mime4j keeps only the first body line",
    "multipartemptypart.msg": "email.parser lets an empty part swallow the close delimiter",
    "obsolete.msg": "a field name with an 8-bit byte starts the body for email.parser",
    "very-long-boundary.msg": "email.parser strips trailing blanks from the boundary parameter",
    "very-very-long-boundary.msg": "email.parser strips trailing blanks from the boundary parameter",
    "weird-boundary.msg": "email.parser strips trailing blanks from the boundary parameter",
}


def _flat_bodies(raw: bytes, depth: int = 0) -> list[bytes]:
    """Leaf bodies in document order, descending into attached messages as mime4j does."""
    bodies: list[bytes] = []
    for part, data in _leaves(raw):
        if part.content_type == "message/rfc822" and depth < 8:
            bodies.extend(_flat_bodies(data, depth + 1))
        else:
            bodies.append(data)
    return bodies


def test_mime4j_decoded_bodies_match() -> None:
    compared = 0
    for path in sorted(MIME4J.glob("*.msg")):
        expected_tree = ET.parse(MIME4J / f"{path.stem}_decoded.xml")
        names = [e.get("name") for e in expected_tree.iter() if e.tag in ("text-body", "binary-body")]
        ours = _flat_bodies(path.read_bytes())
        if path.name in MIME4J_DIVERGENT:
            continue
        assert len(ours) >= len(names), path.name
        for position, name in enumerate(names):
            assert name is not None
            assert ours[position] == (MIME4J / name).read_bytes(), (path.name, name)
            compared += 1
    assert compared >= 25
