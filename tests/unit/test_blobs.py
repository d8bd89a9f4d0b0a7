import zlib
from pathlib import Path

import pytest

from postroom.store.blobs import HEADER, MAGIC, BlobStore, blob_digest


def test_segments_round_trip_and_rebuild_their_index_from_headers(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, fsync=True)
    raws = [b"first message\r\n", b"second\r\n" * 1000, b""]
    refs = store.append([(raw, blob_digest(raw)) for raw in raws])
    assert [store.read(ref) for ref in refs] == raws
    # The headers alone give back every location: the index can be rebuilt from the files.
    assert list(store.scan(refs[0].segment)) == refs


def test_a_full_segment_rolls_over(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, fsync=False, segment_bytes=100)
    first = store.append([(b"x" * 200, blob_digest(b"x" * 200))])
    second = store.append([(b"y" * 200, blob_digest(b"y" * 200))])
    assert first[0].segment != second[0].segment
    assert store.read(second[0]) == b"y" * 200
    # Neither is deletable while young, even with no live blobs.
    assert store.deletable_segments(live=set()) == []


def test_records_written_with_zlib_by_earlier_versions_still_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, fsync=False)
    raw = b"Subject: old\r\n\r\nstored before zstd\r\n" * 20
    old = zlib.compress(raw, 3)
    segment = "older-000001.seg"
    store.path_of(segment).write_bytes(HEADER.pack(MAGIC, bytes.fromhex(blob_digest(raw)), len(old)) + old)
    (ref,) = store.scan(segment)
    assert ref.size == len(raw)
    assert store.read(ref) == raw
    # New records are zstd frames, and compress better than nothing.
    (new,) = store.append([(raw, blob_digest(raw))])
    assert new.length < len(raw)
    assert store.read(new) == raw


def test_planned_appends_own_their_ranges_whatever_order_they_are_written_in(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, fsync=True)
    first = store.plan([BlobStore.pack(b"first\r\n" * 50)])
    second = store.plan([BlobStore.pack(b"second\r\n" * 70)])
    second.write()
    first.write()
    assert store.read(first.refs[0]) == b"first\r\n" * 50
    assert store.read(second.refs[0]) == b"second\r\n" * 70
    assert list(store.scan(first.segment)) == [*first.refs, *second.refs]


def test_planning_touches_no_disk_and_the_first_write_creates_the_segment(tmp_path: Path) -> None:
    # Planning runs on the event loop: the file and its directory fsync wait for the write.
    store = BlobStore(tmp_path, fsync=True)
    planned = store.plan([BlobStore.pack(b"hello\r\n")])
    assert not store.path_of(planned.segment).exists()
    planned.write()
    assert store.read(planned.refs[0]) == b"hello\r\n"
    # A segment that vanishes once written to fails later writes instead of being made again.
    store.path_of(planned.segment).unlink()
    again = store.plan([BlobStore.pack(b"again\r\n")])
    assert again.segment == planned.segment
    with pytest.raises(FileNotFoundError):
        again.write()
    assert store.plan([BlobStore.pack(b"third\r\n")]).segment != planned.segment
