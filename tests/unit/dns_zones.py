"""The DNS test cases as zones, and the session-wide Knot server that serves them.

Every case `<case>` is served as `<case>.test` (read-only) and as `fix-<case>.test` (for the test
that publishes the suggested records). The region is us-ashburn-1: Americas relays, key iad.
Oracle's zone is served with stand-in records (documentation addresses) so includes resolve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from knot_server import Knot, Record

from ocirelay import dns, regions

REGION = "us-ashburn-1"
SELECTOR = "sel1"
TXT = "TXT"


def txt(owner: str, text: str) -> Record:
    return Record(owner, TXT, f'"{text}"')


def dkim_ok(origin: str) -> Record:
    return Record(f"{SELECTOR}._domainkey", "CNAME",
                  f"{SELECTOR}.{origin}.dkim.iad1.oracleemaildelivery.com.")


SPF_OK = txt("@", "v=spf1 mx include:rp.oracleemaildelivery.com -all")
DMARC_OK = txt("_dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc@example.net")
MX = Record("@", "MX", "10 ns")


def healthy(origin: str, *, spf: Record | None = SPF_OK, dmarc: Record | None = DMARC_OK,
            dkim: Record | bool | None = True, extra: tuple[Record, ...] = ()) -> list[Record]:
    """A correct domain, with one part replaced (or removed with None) and `extra` records."""
    dkim_record = dkim_ok(origin) if dkim is True else (dkim or None)
    return [r for r in (MX, spf, dkim_record, dmarc, *extra) if isinstance(r, Record)]


CASES: dict[str, Callable[[str], list[Record]]] = {
    # Also a subdomain sender whose DKIM name was entered in the parent zone with the zone in it.
    "good": lambda o: healthy(o, extra=(Record(
        f"sel3._domainkey.mail.{o}", "CNAME", f"sel3.mail.{o}.dkim.iad1.oracleemaildelivery.com."),
    )),
    "nested": lambda o: healthy(o, spf=txt("@", f"v=spf1 include:_spf.{o} ~all"), extra=(
        txt("_spf", f"v=spf1 ip4:198.51.100.0/24 include:_oracle.{o} -all"),
        txt("_oracle", "v=spf1 include:rp.oracleemaildelivery.com -all"))),
    "nospf": lambda o: healthy(o, spf=txt("@", "site-verification=abc123")),
    "twospf": lambda o: healthy(o, spf=txt("@", "v=spf1 mx -all"), extra=(
        txt("@", "v=spf1 include:rp.oracleemaildelivery.com ~all"),)),
    "nooracle": lambda o: healthy(o, spf=txt("@", "v=spf1 mx -all")),
    "wronggeo": lambda o: healthy(o, spf=txt("@", "v=spf1 include:eu.rp.oracleemaildelivery.com"
                                                  " ~all")),
    "legacy": lambda o: healthy(o, spf=txt("@", "v=spf1 include:spf.oracleemaildelivery.com "
                                                "~all")),
    "plusall": lambda o: healthy(o, spf=txt("@", "v=spf1 include:rp.oracleemaildelivery.com "
                                                 "+all")),
    "syntax": lambda o: healthy(o, spf=txt("@", "v=spf1 inlude:_spf.example.net ip4:300.1.2.3 "
                                                "include:rp.oracleemaildelivery.com -all")),
    # 2 + 3 + 5 + 2 = 12 DNS-querying terms through three levels of includes.
    "toomany": lambda o: healthy(o, spf=txt(
        "@", f"v=spf1 include:a.{o} include:rp.oracleemaildelivery.com ~all"), extra=(
        txt("a", f"v=spf1 include:b.{o} a mx ~all"),
        txt("b", f"v=spf1 a mx ptr exists:%{{i}}.x.{o} include:c.{o} ~all"),
        txt("c", f"v=spf1 a:one.{o} a:two.{o} ~all"))),
    "nodkim": lambda o: healthy(o, dkim=None),
    # The zone-relative owner written with the zone: the zone file appends it a second time.
    "doubled": lambda o: healthy(o, dkim=Record(
        f"{SELECTOR}._domainkey.{o}", "CNAME",
        f"{SELECTOR}.{o}.dkim.iad1.oracleemaildelivery.com.")),
    # The target without its final dot: the zone file appends the origin to it.
    "doubledtarget": lambda o: healthy(o, dkim=Record(
        f"{SELECTOR}._domainkey", "CNAME", f"{SELECTOR}.{o}.dkim.iad1.oracleemaildelivery.com")),
    # Published under another selector: the selector of a second OCI email domain.
    "othersel": lambda o: healthy(o, dkim=Record(
        "sel2._domainkey", "CNAME", f"sel2.{o}.dkim.iad1.oracleemaildelivery.com.")),
    "txtkey": lambda o: healthy(o, dkim=txt(f"{SELECTOR}._domainkey", "v=DKIM1; k=rsa; p=MIIB")),
    "nodmarc": lambda o: healthy(o, dmarc=None),
    "baddmarc": lambda o: healthy(o, dmarc=txt("_dmarc", "v=DMARC1; p=maybe; pct=200")),
    "twodmarc": lambda o: healthy(o, extra=(txt("_dmarc", "v=DMARC1; p=none"),)),
}
# Cases whose suggested records fix them (the others need a person's judgement).
FIXABLE = ("nospf", "twospf", "nooracle", "wronggeo", "legacy", "plusall", "syntax", "nodkim",
           "doubled", "doubledtarget", "txtkey", "nodmarc", "baddmarc", "twodmarc")

ORACLE_ZONE = [txt(name, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all")
               for name in ("rp", "ap.rp", "eu.rp", "spf")]
# A delegation the server is not authoritative for: it answers with a referral (lame).
LAME_ZONE = [Record("child", "NS", "ns.elsewhere.invalid.")]


def zones() -> dict[str, list[str]]:
    served: dict[str, list[str]] = {
        "oracleemaildelivery.com": [r.line() for r in ORACLE_ZONE],
        "lame.test": [r.line() for r in LAME_ZONE],
    }
    for case, records in CASES.items():
        for origin in (f"{case}.test", f"fix-{case}.test"):
            served[origin] = [r.line() for r in records(origin)]
    return served


@pytest.fixture(scope="session")
def knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Knot]:
    server = Knot(Path(tmp_path_factory.mktemp("knot")), zones(),
                  configured_only=["servfail.test"])
    try:
        server.start()
        yield server
    finally:
        server.stop()


def target(*senders: str, selectors: tuple[str, ...] = (SELECTOR,),
           region: str = REGION) -> dns.Target:
    found = regions.lookup(region)
    assert found is not None
    return dns.Target(found, senders, selectors)


def client(server: Knot | tuple[str, int], timeout: float = 2.0) -> dns.DnsClient:
    address = server.address if isinstance(server, Knot) else server
    return dns.DnsClient(address, timeout)
