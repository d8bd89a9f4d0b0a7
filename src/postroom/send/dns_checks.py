"""Check a sending domain's SPF, DKIM and DMARC records and say what to publish.

How to call it::

    checker = DnsChecker()  # system resolver; DnsChecker(["127.0.0.1"], port=5353) for a given server
    report = await checker.check_domain(
        "example.com",
        spf=SpfExpectation(include="_spf.postroom.example"),  # or ip4=("203.0.113.5",)
        dkim_selector="pr2026",
        dkim_public_key=key.public_key,  # the p= value of postroom.mime.dkim.DkimKey
    )
    report.ok  # True when all three are FOUND
    report.spf.status, report.spf.problems, report.spf.expected  # what is wrong and what to publish

Each check ends in ``found`` (present and right), ``missing`` (nothing published), ``invalid``
(published but wrong: syntax, several records, a key or mechanism that does not match) or
``error`` (the DNS lookup itself failed; try again). ``expected`` is always the record to
publish, built from what is there when something is (an SPF record keeps its other mechanisms).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

__all__ = [
    "CheckStatus",
    "DnsChecker",
    "DomainReport",
    "RecordCheck",
    "SpfExpectation",
]

_SPF_MAX_LOOKUPS = 10
_SPF_TERM = re.compile(
    r"(?P<qualifier>[+\-~?]?)(?P<name>all|include|a|mx|ptr|ip4|ip6|exists)(?P<rest>[:/].*)?$", re.IGNORECASE
)
_SPF_MODIFIER = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9\-_.]*)=(?P<value>.*)$")
_DMARC_POLICIES = frozenset({"none", "quarantine", "reject"})


class CheckStatus(StrEnum):
    FOUND = "found"
    MISSING = "missing"
    INVALID = "invalid"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class RecordCheck:
    kind: str  # "spf", "dkim" or "dmarc"
    name: str  # the DNS name looked up
    status: CheckStatus
    expected: str  # the TXT value to publish at ``name``
    found: tuple[str, ...] = ()  # the relevant TXT values that are there now
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DomainReport:
    domain: str
    spf: RecordCheck
    dkim: RecordCheck
    dmarc: RecordCheck

    @property
    def ok(self) -> bool:
        return all(check.status is CheckStatus.FOUND for check in (self.spf, self.dkim, self.dmarc))


@dataclass(frozen=True, slots=True)
class SpfExpectation:
    """What must authorise Postroom's servers: an ``include:`` domain and/or addresses (IPs or CIDRs)."""

    include: str | None = None
    ip4: tuple[str, ...] = ()
    ip6: tuple[str, ...] = ()
    all: str = "~all"  # the ending used when a record is proposed from scratch

    def mechanisms(self) -> list[str]:
        terms = [f"include:{self.include}"] if self.include else []
        terms += [f"ip4:{ip}" for ip in self.ip4]
        terms += [f"ip6:{ip}" for ip in self.ip6]
        return terms


class _LookupFailed(Exception):
    pass


def _txt_values(answer: dns.resolver.Answer) -> list[str]:
    values = []
    for rdata in answer:
        # A TXT record is a list of strings read as one value without separators (RFC 7208 3.3).
        values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
    return values


# --- SPF ----------------------------------------------------------------------------------------


def _spf_problems(record: str, expect: SpfExpectation) -> tuple[list[str], list[str]]:
    """(problems, mechanisms of ``expect`` that the record lacks)."""
    problems: list[str] = []
    terms = record.split()[1:]
    lookups = 0
    authorised: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    includes: set[str] = set()
    seen_all = False
    for term in terms:
        match = _SPF_TERM.match(term)
        if match is None:
            modifier = _SPF_MODIFIER.match(term)
            if modifier is None:
                problems.append(f"unknown term {term!r}")
            elif modifier.group("name").lower() == "redirect":
                lookups += 1
            continue
        name = match.group("name").lower()
        rest = (match.group("rest") or "").removeprefix(":")
        if name in ("include", "a", "mx", "ptr", "exists"):
            lookups += 1
        if name in ("include", "exists") and not rest:
            problems.append(f"{term!r} needs a domain")
        elif name == "include":
            includes.add(rest.lower().rstrip("."))
        elif name in ("ip4", "ip6"):
            try:
                authorised.append(ipaddress.ip_network(rest, strict=False))
            except ValueError:
                problems.append(f"{term!r} is not a valid address")
        elif name == "all":
            seen_all = True
            if match.group("qualifier") in ("", "+"):
                problems.append("'+all' lets any server send as this domain")
    if lookups > _SPF_MAX_LOOKUPS:
        problems.append(f"{lookups} DNS-querying terms; SPF allows at most {_SPF_MAX_LOOKUPS}")
    if not seen_all and not any(t.lower().startswith("redirect=") for t in terms):
        problems.append("no 'all' term at the end; mail from other servers is left neutral")
    missing = []
    if expect.include and expect.include.lower().rstrip(".") not in includes:
        missing.append(f"include:{expect.include}")
    for version, wanted in ((4, expect.ip4), (6, expect.ip6)):
        for ip in wanted:
            network = ipaddress.ip_network(ip, strict=False)
            covered = any(
                net.version == network.version and network.subnet_of(net)  # type: ignore[arg-type]
                for net in authorised
            )
            if not covered:
                missing.append(f"ip{version}:{ip}")
    return problems, missing


def _spf_with(record: str, mechanisms: Sequence[str]) -> str:
    """``record`` with ``mechanisms`` inserted before its ``all`` / ``redirect=`` ending."""
    terms = record.split()
    at = len(terms)
    for index, term in enumerate(terms[1:], start=1):
        lowered = term.lower().lstrip("+-~?")
        if lowered == "all" or lowered.startswith("redirect="):
            at = index
            break
    return " ".join([*terms[:at], *mechanisms, *terms[at:]])


# --- DKIM and DMARC tags --------------------------------------------------------------------------


def _tags(record: str) -> tuple[dict[str, str], list[str]]:
    tags: dict[str, str] = {}
    problems: list[str] = []
    for raw in record.split(";"):
        item = raw.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            problems.append(f"{item!r} is not a tag=value pair")
            continue
        if name in tags:
            problems.append(f"tag {name!r} appears twice")
        tags[name] = "".join(value.split())
    return tags, problems


class DnsChecker:
    """Looks records up with dnspython's async resolver; safe to share between tasks."""

    def __init__(self, nameservers: Sequence[str] | None = None, port: int = 53, timeout: float = 5.0) -> None:
        if nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = list(nameservers)
        else:
            self._resolver = dns.asyncresolver.Resolver()
        self._resolver.port = port
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout

    async def _txt(self, name: str) -> list[str]:
        try:
            answer = await self._resolver.resolve(dns.name.from_text(name), dns.rdatatype.TXT)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
            raise _LookupFailed(f"DNS lookup of {name} failed: {exc}") from None
        except dns.exception.DNSException as exc:
            raise _LookupFailed(f"DNS lookup of {name} failed: {exc}") from None
        return _txt_values(answer)

    async def check_spf(self, domain: str, expect: SpfExpectation) -> RecordCheck:
        """The single ``v=spf1`` TXT record at ``domain`` must authorise ``expect``."""
        fresh = " ".join(["v=spf1", *expect.mechanisms(), expect.all])
        try:
            values = await self._txt(domain)
        except _LookupFailed as exc:
            return RecordCheck("spf", domain, CheckStatus.ERROR, fresh, problems=(str(exc),))
        records = [v for v in values if v.lower() == "v=spf1" or v.lower().startswith("v=spf1 ")]
        if not records:
            return RecordCheck("spf", domain, CheckStatus.MISSING, fresh)
        if len(records) > 1:
            problem = f"{len(records)} SPF records; there must be exactly one (merge them)"
            return RecordCheck("spf", domain, CheckStatus.INVALID, fresh, tuple(records), (problem,))
        problems, missing = _spf_problems(records[0], expect)
        if missing:
            problems.append(f"does not authorise Postroom: add {' '.join(missing)}")
        expected = _spf_with(records[0], missing) if missing else records[0]
        status = CheckStatus.INVALID if problems else CheckStatus.FOUND
        return RecordCheck("spf", domain, status, expected, tuple(records), tuple(problems))

    async def check_dkim(self, domain: str, selector: str, public_key: str, algorithm: str = "rsa") -> RecordCheck:
        """``selector._domainkey.domain`` must publish ``public_key`` (the p= value) for ``algorithm``."""
        name = f"{selector}._domainkey.{domain}"
        expected = f"v=DKIM1; k={algorithm}; p={public_key}"
        try:
            values = await self._txt(name)
        except _LookupFailed as exc:
            return RecordCheck("dkim", name, CheckStatus.ERROR, expected, problems=(str(exc),))
        if not values:
            return RecordCheck("dkim", name, CheckStatus.MISSING, expected)
        if len(values) > 1:
            problem = f"{len(values)} TXT records at {name}; there must be exactly one"
            return RecordCheck("dkim", name, CheckStatus.INVALID, expected, tuple(values), (problem,))
        tags, problems = _tags(values[0])
        version = tags.get("v")
        if version is not None and (version != "DKIM1" or not values[0].lstrip().lower().startswith("v=")):
            problems.append("v= must be 'DKIM1' and come first")
        if tags.get("k", "rsa").lower() != algorithm:
            problems.append(f"key type is {tags.get('k', 'rsa')!r}, expected {algorithm!r}")
        published = tags.get("p")
        if published is None:
            problems.append("no p= (public key) tag")
        elif not published:
            problems.append("the key is revoked (empty p=)")
        elif published != public_key:
            problems.append("the published key does not match the key Postroom signs with")
        status = CheckStatus.INVALID if problems else CheckStatus.FOUND
        return RecordCheck("dkim", name, status, expected, tuple(values), tuple(problems))

    async def check_dmarc(self, domain: str, rua: str | None = None) -> RecordCheck:
        """``_dmarc.domain`` must hold one valid ``v=DMARC1`` record (any policy; ``none`` is allowed)."""
        name = f"_dmarc.{domain}"
        expected = "v=DMARC1; p=none" + (f"; rua=mailto:{rua}" if rua else "")
        try:
            values = await self._txt(name)
        except _LookupFailed as exc:
            return RecordCheck("dmarc", name, CheckStatus.ERROR, expected, problems=(str(exc),))
        records = [v for v in values if v.replace(" ", "").lower().startswith("v=dmarc1")]
        if not records:
            return RecordCheck("dmarc", name, CheckStatus.MISSING, expected)
        if len(records) > 1:
            problem = f"{len(records)} DMARC records; there must be exactly one"
            return RecordCheck("dmarc", name, CheckStatus.INVALID, expected, tuple(records), (problem,))
        tags, problems = _tags(records[0])
        if tags.get("v") != "DMARC1":
            problems.append("v= must be exactly 'DMARC1'")
        policy = tags.get("p")
        if policy is None:
            problems.append("no p= (policy) tag")
        elif policy.lower() not in _DMARC_POLICIES:
            problems.append(f"p={policy!r} is not none, quarantine or reject")
        if "sp" in tags and tags["sp"].lower() not in _DMARC_POLICIES:
            problems.append(f"sp={tags['sp']!r} is not none, quarantine or reject")
        if "pct" in tags and not (tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
            problems.append(f"pct={tags['pct']!r} is not a number from 0 to 100")
        for tag in ("adkim", "aspf"):
            if tag in tags and tags[tag].lower() not in ("r", "s"):
                problems.append(f"{tag}={tags[tag]!r} must be 'r' or 's'")
        for tag in ("rua", "ruf"):
            if tag in tags and not all(u.lower().startswith("mailto:") for u in tags[tag].split(",") if u):
                problems.append(f"{tag}= addresses must be mailto: URIs")
        if problems:
            return RecordCheck("dmarc", name, CheckStatus.INVALID, expected, tuple(records), tuple(problems))
        return RecordCheck("dmarc", name, CheckStatus.FOUND, records[0], tuple(records))

    async def check_domain(
        self,
        domain: str,
        *,
        spf: SpfExpectation,
        dkim_selector: str,
        dkim_public_key: str,
        dkim_algorithm: str = "rsa",
        dmarc_rua: str | None = None,
    ) -> DomainReport:
        """All three checks, run concurrently."""
        spf_check, dkim_check, dmarc_check = await asyncio.gather(
            self.check_spf(domain, spf),
            self.check_dkim(domain, dkim_selector, dkim_public_key, dkim_algorithm),
            self.check_dmarc(domain, dmarc_rua),
        )
        return DomainReport(domain=domain, spf=spf_check, dkim=dkim_check, dmarc=dmarc_check)
