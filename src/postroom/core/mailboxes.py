"""Reading and writing mail files: mbox, Maildir and folders of .eml, for import and export."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

EML_SUFFIXES = {".eml", ".msg", ".txt"}


class UnknownMailbox(ValueError):
    pass


def detect(path: Path) -> str:
    """'maildir', 'mbox', 'eml-folder' or 'eml' for the thing at ``path``."""
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            return "maildir"
        return "eml-folder"
    if path.is_file():
        with path.open("rb") as handle:
            head = handle.read(5)
        return "mbox" if head == b"From " else "eml"
    raise UnknownMailbox(f"{path} is neither a file nor a folder")


def count(path: Path) -> int:
    kind = detect(path)
    if kind == "eml":
        return 1
    if kind == "eml-folder":
        return sum(1 for _ in _eml_files(path))
    if kind == "maildir":
        return sum(1 for folder in ("cur", "new") for p in (path / folder).iterdir() if p.is_file())
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.startswith(b"From "))


def read(path: Path) -> Iterator[bytes]:
    """Yield each message's raw bytes, exactly as stored."""
    kind = detect(path)
    if kind == "eml":
        yield path.read_bytes()
    elif kind == "eml-folder":
        for file in _eml_files(path):
            yield file.read_bytes()
    elif kind == "maildir":
        for folder in ("new", "cur"):
            for file in sorted((path / folder).iterdir()):
                if file.is_file():
                    yield file.read_bytes()
    else:
        yield from _read_mbox(path)


def _eml_files(folder: Path) -> Iterator[Path]:
    for file in sorted(folder.rglob("*")):
        if file.is_file() and (file.suffix.lower() in EML_SUFFIXES or not file.suffix):
            yield file


def _read_mbox(path: Path) -> Iterator[bytes]:
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


class MboxWriter:
    def __init__(self, path: Path) -> None:
        self.box = mailbox.mbox(path, create=True)

    def add(self, name: str, raw: bytes) -> None:
        self.box.add(raw)  # mbox has no file names

    def close(self) -> None:
        self.box.flush()
        self.box.close()


class EmlFolderWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, raw: bytes) -> None:
        (self.path / f"{name}.eml").write_bytes(raw)

    def close(self) -> None:
        """Every file is complete once written."""
