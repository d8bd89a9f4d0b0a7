from __future__ import annotations

import pytest

from postroom.capture.tags import plus_tag, plus_tags


@pytest.mark.parametrize(
    ("address", "tag"),
    [
        ("user+signup@example.com", "signup"),
        ("user@example.com", None),
        ("user+@example.com", None),
        ("a+b+c@example.com", "b+c"),
        ('"user+quoted"@example.com', "quoted"),
        ("jörg+anmeldung@exämple.de", "anmeldung"),
        ("local+only", "only"),
    ],
)
def test_plus_tag(address: str, tag: str | None) -> None:
    assert plus_tag(address) == tag


def test_plus_tags_one_per_distinct_tag_in_order() -> None:
    recipients = ["a+signup@x.org", "b@x.org", "c+reset@x.org", "d+signup@y.org"]
    assert plus_tags(recipients) == ("signup", "reset")
    assert plus_tags([]) == ()
