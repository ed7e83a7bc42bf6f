"""DNS readiness of the sending domains for OCI Email Delivery: SPF, DKIM and DMARC findings.

Every domain of `oci_relay_approved_senders` gets one SPF finding, one DKIM finding per selector
(or one saying why none applies) and one DMARC finding. A problem carries the zone-file line to
publish and the existing lines it replaces. DNS failures (timeout, SERVFAIL, REFUSED, referrals
from a server that is neither authoritative nor recursive) are reported as such, never as a
missing record.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import dns.exception
import dns.flags
import dns.name
import dns.rdata
import dns.resolver

from ocirelay import dmarc, spf
from ocirelay.config import address_problem
from ocirelay.regions import Region, lookup

# Oracle's SPF includes by geography of the sending region (oci-facts.md, "DNS for the sending
# domain"); the region -> geography mapping lives in regions.py. The one place to change them.
SPF_INCLUDES: dict[str, str] = {
    "americas": "rp.oracleemaildelivery.com",
    "apac": "ap.rp.oracleemaildelivery.com",
    "europe": "eu.rp.oracleemaildelivery.com",
    "uk-gov": "rp.oraclegovemaildelivery.uk",
}
LEGACY_SPF_INCLUDE = "spf.oracleemaildelivery.com"
# Where OCI's DKIM CNAMEs point. The UK Government zone is inferred from its SPF include
# (unverified); both are accepted for every region.
DKIM_ZONES: dict[str, str] = {"uk-gov": "oraclegovemaildelivery.uk"}
DKIM_ZONE = "oracleemaildelivery.com"
TTL = 3600
DEFAULT_TIMEOUT = 5.0

Status = Literal["ok", "warn", "error"]
Check = Literal["spf", "dkim", "dmarc"]
Outcome = Literal["answer", "nodata", "nxdomain", "timeout", "servfail", "refused", "lame",
                  "error"]
_RANK: dict[Status, int] = {"ok": 0, "warn": 1, "error": 2}
_FAILURES = frozenset({"timeout", "servfail", "refused", "lame", "error"})
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


class DnsSetupError(ValueError):
    """The check cannot start (no resolver configured, bad --nameserver)."""


@dataclass(frozen=True)
class Finding:
    """One result of one check. `publish` is the zone-file line to add (absolute names), and
    `replaces` the existing lines to delete first."""

    domain: str
    check: Check
    status: Status
    reason: str
    publish: str | None = None
    name: str = ""
    replaces: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        result = asdict(self)
        result["replaces"] = list(self.replaces)
        return result


@dataclass(frozen=True)
class Lookup:
    """What one query gave: records, a definite absence, or a failure described for a person."""

    name: str
    rdtype: str
    outcome: Outcome
    rdata: tuple[dns.rdata.Rdata, ...] = ()
    ttl: int = TTL
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in _FAILURES

    def failure(self) -> str:
        query = f"the {self.rdtype} query for {self.name}"
        return {
            "timeout": f"{query} timed out ({self.detail}): the record's state is unknown, not "
                       "missing; check that the domain's name servers answer",
            "servfail": f"{query} got SERVFAIL ({self.detail}): the server could not answer "
                        "(broken zone, DNSSEC failure or unreachable authoritative servers)",
            "refused": f"{query} was REFUSED ({self.detail}): the server does not serve this "
                       "name (lame delegation, or --nameserver is not the right server)",
            "lame": f"{query} got a referral, not an answer ({self.detail}): the server is "
                    "neither authoritative for the name nor recursive (lame delegation, or "
                    "--nameserver is not the right server)",
        }.get(self.outcome, f"{query} failed ({self.detail})")


def parse_nameserver(text: str) -> tuple[str, int]:
    """IP, IP:PORT, or [IPv6]:PORT -> (ip, port); DnsSetupError with the reason otherwise."""
    host, port = text.strip(), "53"
    if host.startswith("[") and "]" in host:
        host, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (rest or "53")
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise DnsSetupError(f"--nameserver {text!r}: {host!r} is not an IP address (write "
                            "IP, IP:PORT or [IPv6]:PORT)") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise DnsSetupError(f"--nameserver {text!r}: {port!r} is not a port (1-65535)")
    return str(address), int(port)


class DnsClient:
    """A stub resolver with bounded timeouts, a fixed or the system's name server, and a cache
    for one run (the same include met twice is queried once)."""

    def __init__(self, nameserver: tuple[str, int] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        if nameserver is None:
            try:
                resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                raise DnsSetupError("no name server is configured on this machine "
                                    "(/etc/resolv.conf): pass --nameserver IP") from None
        else:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [nameserver[0]]
            resolver.port = nameserver[1]
        # Per try, so a second system resolver still gets its turn; the lifetime bounds all.
        resolver.timeout = min(timeout, 2.0)
        resolver.lifetime = timeout
        self._resolver = resolver
        self._timeout = timeout
        self._cache: dict[tuple[str, str], Lookup] = {}

    @property
    def server(self) -> str:
        servers = ", ".join(str(s) for s in self._resolver.nameservers)
        return f"{servers}:{self._resolver.port}" if self._resolver.port != 53 else servers

    def query(self, name: str, rdtype: str) -> Lookup:
        key = (name.lower().rstrip("."), rdtype)
        if key not in self._cache:
            self._cache[key] = self._query(key[0], rdtype)
        return self._cache[key]

    def _query(self, name: str, rdtype: str) -> Lookup:
        where = f"server {self.server}"
        try:
            answer = self._resolver.resolve(dns.name.from_text(name), rdtype, search=False,
                                            raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Lookup(name, rdtype, "nxdomain", detail=where)
        except dns.exception.Timeout:
            return Lookup(name, rdtype, "timeout", detail=f"{where}, {self._timeout:g} s")
        except dns.resolver.NoNameservers as exc:
            outcome, detail = _refusal(exc, where)
            return Lookup(name, rdtype, outcome, detail=detail)
        except dns.exception.DNSException as exc:
            return Lookup(name, rdtype, "error", detail=f"{where}: {exc}")
        if answer.rrset is None:
            lame = not answer.response.flags & (dns.flags.AA | dns.flags.RA)
            return Lookup(name, rdtype, "lame" if lame else "nodata", detail=where)
        return Lookup(name, rdtype, "answer", tuple(answer.rrset), answer.rrset.ttl, where)

    def spf_fetch(self, name: str) -> spf.Fetched:
        """The SPF records of an include or redirect target, for spf.walk."""
        found = self.query(name, "TXT")
        if found.failed:
            return spf.Fetched(error=found.failure())
        if found.outcome == "nxdomain":
            return spf.Fetched(error=f"{name} does not exist (NXDOMAIN; receivers return "
                                     "permerror)")
        return spf.Fetched(tuple(t for t in map(txt_value, found.rdata) if spf.is_spf(t)))


def _refusal(exc: dns.resolver.NoNameservers, where: str) -> tuple[Outcome, str]:
    """SERVFAIL or REFUSED from the server's answers, else the answers as they came."""
    answers = [str(error[3]) for error in exc.kwargs.get("errors", [])]
    if "SERVFAIL" in answers:
        return "servfail", where
    if "REFUSED" in answers:
        return "refused", where
    return "error", f"{where}: {'; '.join(answers) or exc}"


# --- zone-file lines --------------------------------------------------------------------------

def txt_value(rdata: dns.rdata.Rdata) -> str:
    """A TXT record's strings joined (RFC 7208 3.3), as text."""
    return b"".join(rdata.strings).decode("utf-8", errors="replace")  # type: ignore[attr-defined]


def quote_txt(text: str) -> str:
    """TXT rdata in zone-file syntax: quoted strings of at most 255 bytes each."""
    data = text.encode()
    chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    return " ".join('"' + "".join(_escape(byte) for byte in chunk) + '"' for chunk in chunks)


def _escape(byte: int) -> str:
    if byte in (0x22, 0x5C):
        return "\\" + chr(byte)
    return chr(byte) if 0x20 <= byte < 0x7F else f"\\{byte:03d}"


def txt_line(name: str, text: str, ttl: int = TTL) -> str:
    return f"{name}. {ttl} IN TXT {quote_txt(text)}"


def cname_line(name: str, target: str, ttl: int = TTL) -> str:
    return f"{name}. {ttl} IN CNAME {target.rstrip('.')}."


def zone_line(found: Lookup, rdata: dns.rdata.Rdata) -> str:
    return f"{found.name}. {found.ttl} IN {found.rdtype} {rdata.to_text()}"


def _combine(domain: str, check: Check, name: str, issues: Sequence[tuple[Status, str]],
             publish: str | None = None, replaces: tuple[str, ...] = ()) -> Finding:
    """One finding from several issues: the worst status, problems first in the reason; the
    record to publish only when something is wrong."""
    status: Status = max((s for s, _ in issues), key=_RANK.__getitem__, default="ok")
    ordered = [text for s, text in issues if s != "ok"] + [text for s, text in issues if s == "ok"]
    if status == "ok":
        publish, replaces = None, ()
    return Finding(domain, check, status, "; ".join(ordered), publish, name, replaces)


# --- SPF --------------------------------------------------------------------------------------

def spf_include(region: Region) -> str | None:
    return SPF_INCLUDES.get(region.geography or "")


def _geography_text(region: Region) -> str:
    assumed = " (assumed: Oracle does not say which relays serve it)" \
        if region.geography_is_assumed else ""
    return f"{region.name}, {region.geography} relays{assumed}"


def check_spf(domain: str, region: Region, client: DnsClient) -> Finding:
    found = client.query(domain, "TXT")
    if found.failed:
        return Finding(domain, "spf", "error", found.failure(), name=domain)
    rdatas = [rd for rd in found.rdata if spf.is_spf(txt_value(rd))]
    include = spf_include(region)
    if not rdatas:
        return _no_spf(domain, found, include)
    records = [spf.parse(txt_value(rd)) for rd in rdatas]
    replaces = tuple(zone_line(found, rd) for rd in rdatas)
    if len(records) > 1:
        merged = spf.merge(records)
        publish = spf.fixed(merged, include) if include else merged.text
        return Finding(domain, "spf", "error", f"{len(records)} SPF records: receivers return "
                       "permerror and SPF fails for every message; publish one record that "
                       "merges them", txt_line(domain, publish), domain, replaces)
    return _one_spf(domain, region, records[0], replaces, client)


def _no_spf(domain: str, found: Lookup, include: str | None) -> Finding:
    where = f" ({domain} does not exist, NXDOMAIN)" if found.outcome == "nxdomain" else ""
    reason = (f"no SPF record (v=spf1){where}: receivers cannot tell that Oracle's relays may "
              "send for the domain; publish one, list your other senders (e.g. mx) before ~all, "
              "and use -all once they are all listed")
    publish = txt_line(domain, f"v=spf1 include:{include} ~all") if include else None
    return Finding(domain, "spf", "error", reason, publish, domain)


def _one_spf(domain: str, region: Region, record: spf.Record, replaces: tuple[str, ...],
             client: DnsClient) -> Finding:
    issues: list[tuple[Status, str]] = [
        ("error", f"syntax error: {e} (receivers return permerror)") for e in record.errors]
    issues += _all_issues(record)
    walked = spf.walk(record, domain, client.spf_fetch)
    issues += [("error", problem) for problem in walked.problems]
    issues += [("warn", warning) for warning in walked.warnings]
    status, text, drop = _oracle_assessment(walked, region)
    issues.append((status, text))
    issues += _lookup_issues(walked)
    include = spf_include(region)
    publish = spf.fixed(record, include, drop) if include else None
    if publish is None or publish.split() == record.text.split():
        return _combine(domain, "spf", domain, issues)
    return _combine(domain, "spf", domain, issues, publish=txt_line(domain, publish),
                    replaces=replaces)


def _all_issues(record: spf.Record) -> list[tuple[Status, str]]:
    term = record.all_term
    if term is None:
        if any(t.modifier and t.name == "redirect" for t in record.terms):
            return []
        return [("warn", "the record does not end in all: hosts it does not list get a neutral "
                 "result; end it with ~all (or -all)")]
    if term.qualifier == "+":
        return [("error", "+all lets every host on the internet pass SPF for the domain: "
                 "anyone can send as it; use ~all or -all")]
    if term.qualifier == "?":
        return [("warn", "?all gives hosts it does not list a neutral result, so SPF protects "
                 "nothing; use ~all or -all")]
    return []


def _lookup_issues(walked: spf.Walk) -> list[tuple[Status, str]]:
    more = " or more (the walk stopped)" if walked.truncated else ""
    if walked.lookups > spf.LOOKUP_LIMIT:
        return [("error", f"{walked.lookups}{more} DNS-querying terms counted through the "
                 f"includes (RFC 7208 limit {spf.LOOKUP_LIMIT}): receivers return permerror, so "
                 "SPF fails for every message; drop includes you no longer use, or replace "
                 "a/mx terms with ip4:/ip6:")]
    if walked.truncated:
        return [("warn", "the include tree is too large to follow to the end; the count of "
                 f"DNS-querying terms ({walked.lookups} so far) is a lower bound")]
    return [("ok", f"{walked.lookups} of {spf.LOOKUP_LIMIT} DNS lookups")]


def _best(reached: list[spf.Reached], domain: str) -> spf.Reached | None:
    hits = [r for r in reached if r.domain == domain]
    return next((r for r in hits if r.effective), hits[0] if hits else None)


def _where(reached: spf.Reached) -> str:
    """How the record reaches an include: "" when it is in the record itself."""
    if len(reached.path) == 1:
        return ""
    return " through " + " → ".join(f"include:{d}" for d in reached.path[1:])


def _oracle_assessment(walked: spf.Walk, region: Region) -> tuple[Status, str, frozenset[str]]:
    """Whether the record authorises Oracle's relays for the region; the includes to drop."""
    include = spf_include(region)
    if include is None:
        return ("warn", f"Oracle publishes no SPF include we know of for {region.name} (realm "
                f"{region.realm}); ask Oracle which include authorises its relays there",
                frozenset())
    required = _best(walked.reached, include)
    legacy = _best(walked.reached, LEGACY_SPF_INCLUDE)
    if required is not None and required.effective:
        text = (f"authorises Oracle's relays ({_geography_text(region)}) with "
                f"include:{include}{_where(required)}")
        if legacy is None:
            return "ok", text, frozenset()
        return ("warn", f"{text}; the legacy include:{LEGACY_SPF_INCLUDE} is redundant and costs "
                "a DNS lookup: remove it", frozenset({LEGACY_SPF_INCLUDE}))
    if required is not None:
        why = f"its qualifier {required.qualifier} does not give a pass" \
            if required.qualifier != "+" else "an include above it does not give a pass"
        return ("error", f"include:{include} is there{_where(required)} but {why}, so "
                "Oracle's relays are not authorised", frozenset({include}))
    if legacy is not None and legacy.effective:
        return ("warn", f"authorises Oracle only with the legacy include:{LEGACY_SPF_INCLUDE}"
                f"{_where(legacy)}; Oracle's include for {_geography_text(region)} is "
                f"include:{include}: use it instead", frozenset({LEGACY_SPF_INCLUDE}))
    others = [geo for geo, name in SPF_INCLUDES.items() if _best(walked.reached, name)]
    if others:
        return ("error", f"authorises Oracle's {' and '.join(others)} relays, but "
                f"{region.name} sends through the {region.geography} relays: add "
                f"include:{include}", frozenset())
    return ("error", f"does not authorise Oracle's relays: add include:{include} "
            f"({_geography_text(region)})", frozenset())


# --- DKIM -------------------------------------------------------------------------------------

def dkim_zone(region: Region) -> str:
    return DKIM_ZONES.get(region.geography or "", DKIM_ZONE)


def _in_oracle_zone(target: str) -> bool:
    target = target.lower().rstrip(".")
    return any(target == z or target.endswith("." + z)
               for z in {DKIM_ZONE, *DKIM_ZONES.values()})


def expected_dkim_target(selector: str, domain: str, region: Region) -> str:
    """The usual form of OCI's DKIM CNAME target; the exact value is shown in the OCI console."""
    return f"{selector}.{domain}.dkim.{region.key.lower()}1.{dkim_zone(region)}."


def zones_of(domain: str) -> list[str]:
    """The zones `domain` may live in: itself and its parents with at least two labels."""
    labels = domain.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def _undoubled(target: str, domain: str) -> str:
    """A CNAME target without the zone a missing final dot appended to it."""
    bare = target.lower().rstrip(".")
    for zone in zones_of(domain):
        if bare.endswith("." + zone) and _in_oracle_zone(bare[: -len(zone) - 1]):
            return bare[: -len(zone) - 1]
    return bare


@dataclass(frozen=True)
class _SelectorResult:
    finding: Finding
    absent: bool = False


def check_selector(domain: str, selector: str, region: Region,
                   client: DnsClient) -> _SelectorResult:
    name = f"{selector}._domainkey.{domain}"
    found = client.query(name, "CNAME")
    if found.failed:
        return _SelectorResult(Finding(domain, "dkim", "error", found.failure(), name=name))
    if found.outcome == "answer":
        return _SelectorResult(_judge_target(domain, name, found))
    if found.outcome == "nodata":
        return _SelectorResult(_not_a_cname(domain, selector, name, region, client))
    for zone in zones_of(domain):
        doubled = client.query(f"{name}.{zone}", "CNAME")
        if doubled.outcome == "answer":
            return _SelectorResult(_doubled_owner(domain, name, zone, doubled))
    expected = expected_dkim_target(selector, domain, region)
    return _SelectorResult(Finding(
        domain, "dkim", "error", f"no DKIM CNAME: {name} does not exist (NXDOMAIN), so "
        "receivers cannot verify OCI's signature; publish the CNAME with the exact target the "
        "OCI console shows for the DKIM key (the usual form is given here)",
        cname_line(name, expected), name), absent=True)


def _judge_target(domain: str, name: str, found: Lookup) -> Finding:
    target = found.rdata[0].target.to_text()  # type: ignore[attr-defined]
    if _in_oracle_zone(target):
        return Finding(domain, "dkim", "ok", f"{name} is a CNAME to {target} (Oracle's DKIM "
                       "zone)", name=name)
    fixed = _undoubled(target, domain)
    replaces = (zone_line(found, found.rdata[0]),)
    if _in_oracle_zone(fixed):
        return Finding(domain, "dkim", "error", f"the CNAME target has the zone appended: "
                       f"{target}; the zone file gave the target without its final dot, so "
                       f"{domain} was added to it; write {fixed}. with the final dot",
                       cname_line(name, fixed), name, replaces)
    return Finding(domain, "dkim", "error", f"{name} points to {target}, outside Oracle's "
                   f"DKIM zone: receivers will not find OCI's key; copy the target from the "
                   "OCI console", None, name, replaces)


def _doubled_owner(domain: str, name: str, zone: str, doubled: Lookup) -> Finding:
    target = doubled.rdata[0].target.to_text()  # type: ignore[attr-defined]
    relative = name[: -len(zone) - 1]
    return Finding(
        domain, "dkim", "error", f"the CNAME was published as {doubled.name}, not {name}: the "
        f"name was entered with the zone {zone} in it but without the final dot, so the zone "
        f"was appended a second time; in the zone of {zone} write {relative} (relative) or "
        f"{name}. (absolute, with the final dot)",
        cname_line(name, _undoubled(target, domain)), name, (zone_line(doubled, doubled.rdata[0]),))


def _not_a_cname(domain: str, selector: str, name: str, region: Region,
                 client: DnsClient) -> Finding:
    expected = cname_line(name, expected_dkim_target(selector, domain, region))
    txt = client.query(name, "TXT")
    keys = [rd for rd in txt.rdata if "p=" in txt_value(rd)]
    if keys:
        return Finding(domain, "dkim", "error", f"{name} holds a TXT key, not OCI's CNAME: OCI "
                       "signs with keys it keeps and rotates; replace the TXT with the CNAME "
                       "the OCI console shows", expected, name,
                       tuple(zone_line(txt, rd) for rd in keys))
    return Finding(domain, "dkim", "error", f"{name} exists but holds no CNAME; publish the "
                   "CNAME the OCI console shows for the DKIM key", expected, name)


def _no_selector(domain: str, domain_wide: bool) -> Finding:
    name = f"_domainkey.{domain}"
    if domain_wide:
        return Finding(domain, "dkim", "warn", f"@{domain} is a domain-wide approved sender, "
                       "which needs active DKIM, and oci_relay_dkim_selectors is empty: create "
                       "the DKIM key of the OCI email domain, publish its CNAME and list its "
                       "selector in oci_relay_dkim_selectors", name=name)
    return Finding(domain, "dkim", "ok", "not checked: oci_relay_dkim_selectors is empty (DKIM "
                   "is recommended: create it for the OCI email domain and list its selector)",
                   name=name)


def dkim_findings(domains: Sequence[str], domain_wide: frozenset[str],
                  selectors: Sequence[str], region: Region,
                  client: DnsClient) -> dict[str, list[Finding]]:
    """Each selector at each domain. Selectors are listed once for all domains: one that does not
    exist here but is published at another sending domain belongs to that domain and is not
    reported here, unless no selector would be left to report for this domain."""
    results = {(d, s): check_selector(d, s, region, client) for d in domains for s in selectors}
    homes = {s: {d for d in domains if results[(d, s)].finding.status == "ok"} for s in selectors}
    by_domain: dict[str, list[Finding]] = {}
    for domain in domains:
        found = [results[(domain, s)] for s in selectors]
        kept = [r.finding for r, s in zip(found, selectors, strict=True)
                if not (r.absent and homes[s] - {domain})]
        by_domain[domain] = kept or [r.finding for r in found] or [
            _no_selector(domain, domain in domain_wide)]
    return by_domain


# --- DMARC ------------------------------------------------------------------------------------

def check_dmarc(domain: str, client: DnsClient) -> Finding:
    name = f"_dmarc.{domain}"
    found = client.query(name, "TXT")
    if found.failed:
        return Finding(domain, "dmarc", "error", found.failure(), name=name)
    rdatas = [rd for rd in found.rdata if dmarc.is_dmarc(txt_value(rd))]
    if not rdatas:
        return _inherited_dmarc(domain, client) or _no_dmarc(domain, name, found)
    replaces = tuple(zone_line(found, rd) for rd in rdatas)
    records = [dmarc.parse(txt_value(rd)) for rd in rdatas]
    if len(records) > 1:
        keep = dmarc.strictest(records)
        return Finding(domain, "dmarc", "error", f"{len(records)} DMARC records at {name}: "
                       "receivers ignore them all (RFC 7489); keep one (the strictest is "
                       "suggested)", txt_line(name, dmarc.fixed(keep)), name, replaces)
    first = records[0]
    issues: list[tuple[Status, str]] = [("error", e) for e in first.errors]
    issues += [("warn", w) for w in first.warnings]
    if not first.errors:
        issues.append(("ok", dmarc.describe(first)))
    return _combine(domain, "dmarc", name, issues, publish=txt_line(name, dmarc.fixed(first)),
                    replaces=replaces)


def _no_dmarc(domain: str, name: str, found: Lookup) -> Finding:
    why = "does not exist (NXDOMAIN)" if found.outcome == "nxdomain" \
        else "has no v=DMARC1 TXT record"
    return Finding(domain, "dmarc", "warn", f"no DMARC record: {name} {why}; receivers apply "
                   "no policy, and Gmail and Yahoo require one from bulk senders; start with "
                   "p=none, add rua=mailto:<address> for reports, then move to quarantine or "
                   "reject", txt_line(name, "v=DMARC1; p=none"), name)


def _inherited_dmarc(domain: str, client: DnsClient) -> Finding | None:
    """Receivers fall back to the organisational domain's record; parents are tried in turn
    (without the public suffix list, down to two labels)."""
    labels = domain.split(".")
    for start in range(1, len(labels) - 1):
        parent = ".".join(labels[start:])
        found = client.query(f"_dmarc.{parent}", "TXT")
        records = [dmarc.parse(t) for t in map(txt_value, found.rdata) if dmarc.is_dmarc(t)]
        if len(records) == 1 and not records[0].errors:
            sub = records[0].tag("sp")
            policy = f"sp={sub} applies to subdomains; " if sub else ""
            return Finding(domain, "dmarc", "ok", f"no record at _dmarc.{domain}; receivers use "
                           f"_dmarc.{parent}: {policy}{dmarc.describe(records[0])}",
                           name=f"_dmarc.{parent}")
    return None


# --- all checks -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What the DNS check needs of a relay description: no credentials."""

    region: Region
    approved_senders: tuple[str, ...]
    dkim_selectors: tuple[str, ...] = field(default=())

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.rsplit("@", 1)[1].lower() for s in self.approved_senders))

    @property
    def domain_wide(self) -> frozenset[str]:
        return frozenset(s[1:].lower() for s in self.approved_senders if s.startswith("@"))


def check(target: Target, client: DnsClient) -> list[Finding]:
    """Every finding for every sending domain: SPF, DKIM (per selector), DMARC."""
    dkim = dkim_findings(target.domains, target.domain_wide, target.dkim_selectors,
                         target.region, client)
    findings: list[Finding] = []
    for domain in target.domains:
        findings += [check_spf(domain, target.region, client), *dkim[domain],
                     check_dmarc(domain, client)]
    return findings


def target_from_values(region: object, approved_senders: object,
                       dkim_selectors: object) -> tuple[Target | None, list[str]]:
    """A Target from raw variables (the Ansible role's), or the reasons it cannot be made."""
    problems: list[str] = []
    found = lookup(region.strip()) if isinstance(region, str) else None
    if found is None:
        problems.append(f"oci_relay_region: {region!r} is not a known OCI region")
    senders = _strings("oci_relay_approved_senders", approved_senders, problems)
    if approved_senders is not None and not senders and not problems:
        problems.append("oci_relay_approved_senders: is empty")
    for sender in senders:
        if (why := address_problem(sender, domain_wide_allowed=True)) is not None:
            problems.append(f"oci_relay_approved_senders: {sender!r}: {why}")
    selectors = _strings("oci_relay_dkim_selectors", dkim_selectors or [], problems)
    for selector in selectors:
        if not all(_LABEL.match(label) for label in selector.split(".")):
            problems.append(f"oci_relay_dkim_selectors: {selector!r} is not a DNS label")
    if problems or found is None:
        return None, problems
    return Target(found, tuple(senders), tuple(selectors)), []


def _strings(key: str, value: object, problems: list[str]) -> list[str]:
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    problems.append(f"{key}: expected a list of strings, got {type(value).__name__}")
    return []


def worst(findings: Sequence[Finding]) -> Status:
    return max((f.status for f in findings), key=_RANK.__getitem__, default="ok")
