"""Bounce parsing: RFC 3464 reports (Postfix's exact format and others), plain-text bounces, corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postroom.mime.dsn import BounceReport, parse_bounce

POSTFIX_BOUNCE = b"""\
Return-Path: <>
Received: by mail.example.com (Postfix)
\tid 4A1B92D42; Tue, 14 Nov 2023 22:00:00 +0000 (UTC)
Date: Tue, 14 Nov 2023 22:00:00 +0000 (UTC)
From: MAILER-DAEMON@mail.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: sender@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4A1B92D42.1700000000/mail.example.com"
Content-Transfer-Encoding: 8bit
Message-Id: <20231114220000.4A1B92D42@mail.example.com>

This is a MIME-encapsulated message.

--4A1B92D42.1700000000/mail.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<nobody@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1
    <nobody@example.org>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

<full@example.net>: host mx.example.net[198.51.100.7] said: 452 4.2.2
    Mailbox full (in reply to RCPT TO command)

--4A1B92D42.1700000000/mail.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com
X-Postfix-Queue-ID: 4A1B92D42
X-Postfix-Sender: rfc822; sender@example.com
Arrival-Date: Tue, 14 Nov 2023 21:59:58 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.org
Original-Recipient: rfc822;Nobody@Example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

Final-Recipient: rfc822; full@example.net
Original-Recipient: rfc822;full@example.net
Action: failed
Status: 4.2.2
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

--4A1B92D42.1700000000/mail.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <sender@example.com>
Received: by mail.example.com (Postfix, from userid 1000)
\tid 4A1B92D42; Tue, 14 Nov 2023 21:59:58 +0000 (UTC)
From: Sender <sender@example.com>
To: nobody@example.org, full@example.net
Subject: Quarterly report
Message-Id: <original-123@example.com>
Date: Tue, 14 Nov 2023 21:59:58 +0000 (UTC)

--4A1B92D42.1700000000/mail.example.com--
""".replace(b"\n", b"\r\n")

POSTFIX_DELAY = b"""\
From: MAILER-DAEMON@mail.example.com (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: sender@example.com
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="B7C1D2.1700000001/mail.example.com"

--B7C1D2.1700000001/mail.example.com
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.com.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

--B7C1D2.1700000001/mail.example.com
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com

Final-Recipient: rfc822; slow@example.org
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.org[192.0.2.9]:25: Connection
    timed out
Will-Retry-Until: Tue, 21 Nov 2023 22:00:00 +0000 (UTC)

--B7C1D2.1700000001/mail.example.com
Content-Type: message/rfc822

From: Sender <sender@example.com>
To: slow@example.org
Subject: Hello
Message-ID: <delayed-9@example.com>

Hello
--B7C1D2.1700000001/mail.example.com--
"""

SUCCESS_REPORT = b"""\
From: postmaster@example.org
To: sender@example.com
Subject: Successful Mail Delivery Report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Delivered.
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; ann@example.org
Action: delivered
Status: 2.0.0
--b1--
"""

QMAIL_BOUNCE = b"""\
From: MAILER-DAEMON@mx.example.jp
To: sender@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<ghost@example.ne.jp>:
192.0.2.32 does not like recipient.
Remote host said: 550 5.1.1 <ghost@example.ne.jp>... User unknown
Giving up on 192.0.2.32.

<busy@example.ne.jp>:
Connected to 192.0.2.40 but sender was rejected.
Remote host said: 554 Denied

--- Below this line is a copy of the message.

Return-Path: <sender@example.com>
Message-ID: <q-77@example.com>
From: sender@example.com
To: ghost@example.ne.jp
Subject: hi

hi
"""

PLAIN_POSTFIX_BOUNCE = b"""\
From: MAILER-DAEMON@old.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: sender@example.com

This is the mail system at host old.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<gone@example.org>: host mx.example.org[192.0.2.25] said: 550 User unknown (in
    reply to RCPT TO command)

--- The original message follows ---
Message-ID: <plain-5@example.com>
Subject: old
"""

ORDINARY = b"""\
From: Ann <ann@example.org>
To: bob@example.com
Subject: Lunch? Write to me at ann@example.org:

<bob@example.com>: are you free?
"""


def test_postfix_report_gives_each_recipient_with_its_status() -> None:
    report = parse_bounce(POSTFIX_BOUNCE)
    assert report is not None
    assert not report.heuristic
    assert report.reporting_mta == "mail.example.com"
    assert report.original_message_id == "<original-123@example.com>"
    hard, soft = report.recipients
    assert hard.final_recipient == "nobody@example.org"
    assert hard.original_recipient == "Nobody@Example.org"
    assert (hard.action, hard.status, hard.kind) == ("failed", "5.1.1", "hard")
    assert hard.remote_mta == "mx.example.org"
    assert hard.diagnostic_code == (
        "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
    )
    assert (soft.recipient, soft.status, soft.kind) == ("full@example.net", "4.2.2", "soft")


def test_delay_notice_is_soft_and_reads_the_returned_message() -> None:
    report = parse_bounce(POSTFIX_DELAY)
    assert report is not None
    (delayed,) = report.recipients
    assert (delayed.recipient, delayed.action, delayed.status, delayed.kind) == (
        "slow@example.org",
        "delayed",
        "4.4.1",
        "soft",
    )
    assert delayed.diagnostic_code == "connect to mx.example.org[192.0.2.9]:25: Connection timed out"
    assert report.original_message_id == "<delayed-9@example.com>"


def test_success_reports_are_not_bounces() -> None:
    report = parse_bounce(SUCCESS_REPORT)
    assert report is not None
    assert [(r.recipient, r.action, r.kind) for r in report.recipients] == [("ann@example.org", "delivered", "none")]


def test_qmail_bounce_is_read_heuristically() -> None:
    report = parse_bounce(QMAIL_BOUNCE)
    assert report is not None
    assert report.heuristic
    assert report.original_message_id == "<q-77@example.com>"
    assert [(r.recipient, r.status, r.kind) for r in report.recipients] == [
        ("ghost@example.ne.jp", "5.1.1", "hard"),
        ("busy@example.ne.jp", "5.0.0", "hard"),
    ]
    assert "User unknown" in (report.recipients[0].diagnostic_code or "")


def test_plain_text_postfix_bounce_is_read_heuristically() -> None:
    report = parse_bounce(PLAIN_POSTFIX_BOUNCE)
    assert report is not None and report.heuristic
    assert [(r.recipient, r.status) for r in report.recipients] == [("gone@example.org", "5.0.0")]
    assert report.original_message_id == "<plain-5@example.com>"


@pytest.mark.parametrize("raw", [ORDINARY, b"", b"\x00\xff garbage", b"Content-Type: multipart/report\r\n\r\n--x"])
def test_other_messages_are_not_bounces(raw: bytes) -> None:
    assert parse_bounce(raw) is None


def _bounce_files(corpus: Path) -> list[tuple[Path, str]]:
    root = corpus / "sisimai-set-of-emails"
    expected = json.loads((root / "EXPECTED-rb-sisimai.json").read_text())
    found = []
    for name, rows in sorted(expected.items()):
        path = root / "maildir" / "bsd" / name
        statuses = [row["deliverystatus"] for row in rows if row["deliverystatus"]]
        if path.exists() and statuses:
            found.append((path, statuses[0]))
    return found


def test_sisimai_corpus_agrees_on_hard_and_soft(corpus: Path) -> None:
    files = _bounce_files(corpus)
    assert len(files) > 200
    standard: list[bool] = []
    heuristic: list[bool] = []
    for path, status in files:
        report: BounceReport | None = parse_bounce(path.read_bytes())
        if report is None:
            continue
        want = "hard" if status.startswith("5") else "soft"
        agrees = all(r.kind == want for r in report.recipients)
        (heuristic if report.heuristic else standard).append(agrees)
    # Measured: 203 of 258 read (130 standard, 73 heuristic); kinds agree on 126 and 69.
    assert len(standard) + len(heuristic) >= 0.75 * len(files)
    assert len(standard) >= 120
    assert sum(standard) >= 0.95 * len(standard)
    assert sum(heuristic) >= 0.85 * len(heuristic)


def test_flufl_corpus_addresses_match_where_read(corpus: Path) -> None:
    rows = json.loads((corpus / "flufl-bounce" / "EXPECTED.json").read_text())
    read = exact = 0
    for row in rows:
        want = {address.lower() for address in row["expected_addresses"]}
        path = corpus / "flufl-bounce" / row["file"]
        if not want or not path.exists():
            continue
        report = parse_bounce(path.read_bytes())
        if report is None:
            continue
        read += 1
        exact += {(r.recipient or "").lower() for r in report.recipients} == want
    # Measured: 63 of 101 read, 55 with exactly the expected addresses.
    assert read >= 50
    assert exact >= 0.8 * read


def test_ordinary_corpus_mail_is_never_taken_for_a_bounce(corpus: Path) -> None:
    paths = [
        path
        for folder in ("spamassassin-tdata/nice", "spamassassin-tdata/spam", "mailpit-testdata")
        for path in sorted((corpus / folder).iterdir())
        if path.is_file()
    ]
    assert len(paths) > 90
    assert [p.name for p in paths if parse_bounce(p.read_bytes()) is not None] == []
