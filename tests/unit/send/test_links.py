"""Tracking and unsubscribe links need a public https address in production; without one, mail goes out plain."""

from pathlib import Path

from postroom.config import Settings
from postroom.send.links import build_tracker

SECRET = "s" * 40


def test_production_without_an_https_public_url_sends_without_links(tmp_path: Path) -> None:
    settings = Settings(environment="production", jwt_secret=SECRET, storage_dir=tmp_path)
    assert build_tracker(settings) is None


def test_production_with_an_https_public_url_makes_links(tmp_path: Path) -> None:
    settings = Settings(
        environment="production", jwt_secret=SECRET, storage_dir=tmp_path, public_url="https://mail.example.com/"
    )
    tracker = build_tracker(settings)
    assert tracker is not None
    assert tracker.unsubscribe_url("7").startswith("https://mail.example.com/t/u/")


def test_development_allows_the_local_http_address(tmp_path: Path) -> None:
    tracker = build_tracker(Settings(storage_dir=tmp_path))
    assert tracker is not None and tracker.open_url("7").startswith("http://127.0.0.1:8025/t/o/")
