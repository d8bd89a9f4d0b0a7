"""SPF, DKIM and DMARC checks against a real (tiny, local) authoritative DNS server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.fakes.dns_server import DnsServer, txt

from postroom.mime.dkim import DkimKey, generate_key
from postroom.send.dns_checks import CheckStatus, DnsChecker, SpfExpectation

INCLUDE = "_spf.postroom.test"
SPF = SpfExpectation(include=INCLUDE)


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return generate_key("example.com", "pr1")


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    async with DnsServer({}) as running:
        yield running


def checker(server: DnsServer) -> DnsChecker:
    return DnsChecker([server.host], port=server.port, timeout=2.0)


async def test_a_correct_domain_is_found_on_all_three(server: DnsServer, key: DkimKey) -> None:
    server.load(
        {
            "example.com": {"TXT": [txt("google-site-verification=abc"), txt(f"v=spf1 mx include:{INCLUDE} -all")]},
            key.dns_name: {"TXT": [" ".join(f'"{s}"' for s in key.txt_strings)]},
            "_dmarc.example.com": {"TXT": [txt("v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com; pct=50")]},
        }
    )
    report = await checker(server).check_domain(
        "example.com", spf=SPF, dkim_selector="pr1", dkim_public_key=key.public_key
    )
    assert report.ok, report
    assert report.spf.found == (f"v=spf1 mx include:{INCLUDE} -all",)
    assert report.dkim.found == (key.dns_value,)  # the 255-character strings are joined back
    assert ("pr1._domainkey.example.com.", "TXT") in server.queries


async def test_an_empty_domain_is_missing_everything_with_records_to_publish(server: DnsServer, key: DkimKey) -> None:
    report = await checker(server).check_domain(
        "example.com", spf=SPF, dkim_selector="pr1", dkim_public_key=key.public_key, dmarc_rua="dmarc@example.com"
    )
    assert [c.status for c in (report.spf, report.dkim, report.dmarc)] == [CheckStatus.MISSING] * 3
    assert report.spf.expected == f"v=spf1 include:{INCLUDE} ~all"
    assert report.dkim.name == "pr1._domainkey.example.com"
    assert report.dkim.expected == f"v=DKIM1; k=rsa; p={key.public_key}"
    assert report.dmarc.name == "_dmarc.example.com"
    assert report.dmarc.expected == "v=DMARC1; p=none; rua=mailto:dmarc@example.com"
    assert not report.ok


async def test_spf_without_our_include_is_invalid_and_the_fix_keeps_other_mechanisms(server: DnsServer) -> None:
    server.load({"example.com": {"TXT": [txt("v=spf1 ip4:192.0.2.0/24 include:mail.other.test ~all")]}})
    check = await checker(server).check_spf("example.com", SPF)
    assert check.status is CheckStatus.INVALID
    assert any(INCLUDE in p for p in check.problems)
    assert check.expected == f"v=spf1 ip4:192.0.2.0/24 include:mail.other.test include:{INCLUDE} ~all"


async def test_spf_ip_expectation_is_met_by_a_covering_network(server: DnsServer) -> None:
    server.load({"example.com": {"TXT": [txt("v=spf1 ip4:203.0.113.0/24 -all")]}})
    inside = await checker(server).check_spf("example.com", SpfExpectation(ip4=("203.0.113.7",)))
    outside = await checker(server).check_spf("example.com", SpfExpectation(ip4=("198.51.100.7",)))
    assert inside.status is CheckStatus.FOUND
    assert outside.status is CheckStatus.INVALID
    assert outside.expected == "v=spf1 ip4:203.0.113.0/24 ip4:198.51.100.7 -all"


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        ([f"v=spf1 include:{INCLUDE} ~all", "v=spf1 -all"], "exactly one"),
        ([f"v=spf1 include:{INCLUDE} +all"], "+all"),
        ([f"v=spf1 include:{INCLUDE} bogus ~all"], "unknown term"),
        ([f"v=spf1 include:{INCLUDE} ip4:999.1.1.1 ~all"], "not a valid address"),
        ([f"v=spf1 include:{INCLUDE}"], "no 'all'"),
        (["v=spf1 " + " ".join(f"include:s{i}.test" for i in range(11)) + f" include:{INCLUDE} -all"], "at most 10"),
    ],
)
async def test_broken_spf_records_are_invalid(server: DnsServer, records: list[str], problem: str) -> None:
    server.load({"example.com": {"TXT": [txt(r) for r in records]}})
    check = await checker(server).check_spf("example.com", SPF)
    assert check.status is CheckStatus.INVALID
    assert any(problem in p for p in check.problems), check.problems


async def test_dkim_with_another_key_is_invalid(server: DnsServer, key: DkimKey) -> None:
    other = generate_key("example.com", "pr1", "ed25519")
    server.load({key.dns_name: {"TXT": [txt(other.dns_value)]}})
    check = await checker(server).check_dkim("example.com", "pr1", key.public_key)
    assert check.status is CheckStatus.INVALID
    assert any("does not match" in p for p in check.problems)
    assert any("key type" in p for p in check.problems)
    assert check.expected == key.dns_value


async def test_ed25519_dkim_record_is_found(server: DnsServer) -> None:
    ed = generate_key("example.com", "ed1", "ed25519")
    server.load({ed.dns_name: {"TXT": [txt(ed.dns_value)]}})
    check = await checker(server).check_dkim("example.com", "ed1", ed.public_key, "ed25519")
    assert check.status is CheckStatus.FOUND


async def test_revoked_dkim_key_is_invalid(server: DnsServer, key: DkimKey) -> None:
    server.load({key.dns_name: {"TXT": [txt("v=DKIM1; k=rsa; p=")]}})
    check = await checker(server).check_dkim("example.com", "pr1", key.public_key)
    assert check.status is CheckStatus.INVALID
    assert any("revoked" in p for p in check.problems)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("v=DMARC1; p=maybe", "not none, quarantine or reject"),
        ("v=DMARC1; rua=mailto:d@example.com", "no p="),
        ("v=DMARC1; p=none; pct=150", "pct"),
        ("v=DMARC1; p=none; rua=https://example.com/r", "mailto"),
        ("v=DMARC1; p=none; adkim=x", "adkim"),
    ],
)
async def test_broken_dmarc_records_are_invalid(server: DnsServer, record: str, problem: str) -> None:
    server.load({"_dmarc.example.com": {"TXT": [txt(record)]}})
    check = await checker(server).check_dmarc("example.com")
    assert check.status is CheckStatus.INVALID
    assert any(problem in p for p in check.problems), check.problems


async def test_two_dmarc_records_are_invalid(server: DnsServer) -> None:
    server.load({"_dmarc.example.com": {"TXT": [txt("v=DMARC1; p=none"), txt("v=DMARC1; p=reject")]}})
    check = await checker(server).check_dmarc("example.com")
    assert check.status is CheckStatus.INVALID


async def test_a_failing_server_reports_an_error_not_missing(server: DnsServer, key: DkimKey) -> None:
    server.fail = True
    report = await checker(server).check_domain(
        "example.com", spf=SPF, dkim_selector="pr1", dkim_public_key=key.public_key
    )
    assert [c.status for c in (report.spf, report.dkim, report.dmarc)] == [CheckStatus.ERROR] * 3
    assert "example.com" in report.spf.problems[0]
