"""The fast MAIL/RCPT path parser answers exactly what aiosmtpd's full parser answers."""

import pytest
from aiosmtpd.smtp import SMTP

from postroom.capture.smtp import CaptureSMTP

PATHS = [
    "<bob@example.com>",
    "<bob@example.com> SIZE=100 BODY=8BITMIME",
    " <a.b+c@d-e.f>  SMTPUTF8",
    "<x_y=z@sub.example.co.uk>",
    "<>",
    '<"a b"@x.com>',
    "<a..b@x.com>",
    "<ü@example.com> SMTPUTF8",
    "<a@[127.0.0.1]>",
    "bob@example.com",
    "<bob@example.com",
    "",
]


@pytest.mark.parametrize("arg", PATHS)
def test_fast_path_matches_aiosmtpd(arg: str) -> None:
    ours = object.__new__(CaptureSMTP)
    theirs = object.__new__(SMTP)
    ours.local_part_limit = theirs.local_part_limit = 0
    expected = SMTP._getaddr(theirs, arg)
    got = ours._getaddr(arg)
    assert got[0] == expected[0]
    assert (got[1] or "").split() == (expected[1] or "").split()


def test_local_part_limit_still_applies() -> None:
    ours = object.__new__(CaptureSMTP)
    ours.local_part_limit = 3
    assert ours._getaddr("<abcd@example.com>") == (None, None)
