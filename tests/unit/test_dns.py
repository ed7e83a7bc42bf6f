"""`ocirelay.dns` against a real authoritative server (Knot on 127.0.0.1): each case produces
the finding it should, DNS failures are reported as such, and the suggested records fix the zone.
"""

from __future__ import annotations

import time

import pytest
from dns_zones import CASES, FIXABLE, SELECTOR, client, knot, target
from knot_server import Knot, Record, silent_server

from ocirelay import dns

__all__ = ["knot"]  # the session fixture, imported for this module's tests


def by_check(findings: list[dns.Finding]) -> dict[str, dns.Finding]:
    """The single finding of each check (spf, dkim, dmarc) of a one-domain run."""
    assert len(findings) == 3, findings
    return {f.check: f for f in findings}


def run(server: Knot, *senders: str, **kwargs: object) -> list[dns.Finding]:
    return dns.check(target(*senders, **kwargs), client(server))  # type: ignore[arg-type]


def one(server: Knot, case: str, **kwargs: object) -> dict[str, dns.Finding]:
    return by_check(run(server, f"noreply@{case}.test", **kwargs))


# --- a correct domain ------------------------------------------------------------------------

def test_correct_domain_is_ok_in_every_check(knot: Knot) -> None:
    found = one(knot, "good")
    assert [f.status for f in found.values()] == ["ok", "ok", "ok"], found
    assert "with include:rp.oracleemaildelivery.com" in found["spf"].reason
    assert "2 of 10 DNS lookups" in found["spf"].reason
    assert "sel1.good.test.dkim.iad1.oracleemaildelivery.com." in found["dkim"].reason
    assert found["dmarc"].reason.startswith("p=reject")
    assert all(f.publish is None and f.replaces == () for f in found.values())


def test_oracle_authorised_through_nested_includes(knot: Knot) -> None:
    spf = one(knot, "nested")["spf"]
    assert spf.status == "ok", spf
    assert "through include:_spf.nested.test → include:_oracle.nested.test" in spf.reason
    assert "3 of 10 DNS lookups" in spf.reason


# --- SPF --------------------------------------------------------------------------------------

def test_no_spf_record(knot: Knot) -> None:
    spf = one(knot, "nospf")["spf"]
    assert (spf.status, spf.replaces) == ("error", ())
    assert spf.reason.startswith("no SPF record (v=spf1):")
    assert spf.publish == 'nospf.test. 3600 IN TXT "v=spf1 include:rp.oracleemaildelivery.com ~all"'


def test_two_spf_records_are_merged_into_one(knot: Knot) -> None:
    spf = one(knot, "twospf")["spf"]
    assert spf.status == "error"
    assert spf.reason.startswith("2 SPF records: receivers return permerror")
    assert sorted(spf.replaces) == [
        'twospf.test. 3600 IN TXT "v=spf1 include:rp.oracleemaildelivery.com ~all"',
        'twospf.test. 3600 IN TXT "v=spf1 mx -all"']
    assert spf.publish is not None
    assert spf.publish.count("v=spf1") == 1
    assert "mx" in spf.publish and "include:rp.oracleemaildelivery.com" in spf.publish


def test_spf_without_oracle(knot: Knot) -> None:
    spf = one(knot, "nooracle")["spf"]
    assert spf.status == "error"
    assert "does not authorise Oracle's relays: add include:rp.oracleemaildelivery.com" \
        in spf.reason
    assert spf.replaces == ('nooracle.test. 3600 IN TXT "v=spf1 mx -all"',)
    assert spf.publish == ('nooracle.test. 3600 IN TXT '
                           '"v=spf1 mx include:rp.oracleemaildelivery.com -all"')


def test_spf_with_the_wrong_geography(knot: Knot) -> None:
    spf = one(knot, "wronggeo")["spf"]
    assert spf.status == "error"
    assert "authorises Oracle's europe relays, but us-ashburn-1 sends through the americas " \
        "relays" in spf.reason
    assert spf.publish is not None and "include:rp.oracleemaildelivery.com" in spf.publish


def test_the_same_record_is_right_for_a_european_region(knot: Knot) -> None:
    spf = one(knot, "wronggeo", region="eu-frankfurt-1")["spf"]
    assert spf.status == "ok", spf
    assert "eu-frankfurt-1, europe relays" in spf.reason


def test_uk_government_region_needs_its_own_include(knot: Knot) -> None:
    spf = one(knot, "good", region="uk-gov-london-1")["spf"]
    assert spf.status == "error"
    assert "authorises Oracle's americas relays, but uk-gov-london-1 sends through the uk-gov " \
        "relays: add include:rp.oraclegovemaildelivery.uk" in spf.reason


def test_region_without_a_known_include_is_a_warning(knot: Knot) -> None:
    spf = one(knot, "good", region="ap-chiyoda-1")["spf"]
    assert spf.status == "warn"
    assert "Oracle publishes no SPF include we know of for ap-chiyoda-1 (realm oc8)" in spf.reason


def test_assumed_geography_is_said(knot: Knot) -> None:
    spf = one(knot, "wronggeo", region="me-dubai-1")["spf"]
    assert spf.status == "ok", spf
    assert "assumed" in spf.reason


def test_more_than_ten_lookups_through_nested_includes(knot: Knot) -> None:
    spf = one(knot, "toomany")["spf"]
    assert spf.status == "error"
    assert spf.reason.startswith("12 DNS-querying terms counted through the includes "
                                 "(RFC 7208 limit 10)")
    assert spf.publish is None  # only a person can decide what to drop


def test_legacy_include_is_recognised_and_reported(knot: Knot) -> None:
    spf = one(knot, "legacy")["spf"]
    assert spf.status == "warn"
    assert "only with the legacy include:spf.oracleemaildelivery.com" in spf.reason
    assert spf.publish == ('legacy.test. 3600 IN TXT '
                           '"v=spf1 include:rp.oracleemaildelivery.com ~all"')


def test_plus_all_is_flagged(knot: Knot) -> None:
    spf = one(knot, "plusall")["spf"]
    assert spf.status == "error"
    assert spf.reason.startswith("+all lets every host on the internet pass SPF")
    assert spf.publish is not None and spf.publish.endswith('~all"')


def test_syntax_errors_are_flagged(knot: Knot) -> None:
    spf = one(knot, "syntax")["spf"]
    assert spf.status == "error"
    assert "'inlude:_spf.example.net': unknown mechanism 'inlude'" in spf.reason
    assert "'300.1.2.3' is not an IPv4 address" in spf.reason


# --- DKIM -------------------------------------------------------------------------------------

def test_dkim_missing(knot: Knot) -> None:
    dkim = one(knot, "nodkim")["dkim"]
    assert dkim.status == "error"
    assert dkim.reason.startswith("no DKIM CNAME: sel1._domainkey.nodkim.test does not exist "
                                  "(NXDOMAIN)")
    assert dkim.publish == ("sel1._domainkey.nodkim.test. 3600 IN CNAME "
                            "sel1.nodkim.test.dkim.iad1.oracleemaildelivery.com.")


def test_dkim_owner_with_the_zone_appended_twice(knot: Knot) -> None:
    dkim = one(knot, "doubled")["dkim"]
    assert dkim.status == "error"
    assert "published as sel1._domainkey.doubled.test.doubled.test" in dkim.reason
    assert "in the zone of doubled.test write sel1._domainkey (relative) or " \
        "sel1._domainkey.doubled.test. (absolute" in dkim.reason
    assert dkim.replaces == ("sel1._domainkey.doubled.test.doubled.test. 3600 IN CNAME "
                             "sel1.doubled.test.dkim.iad1.oracleemaildelivery.com.",)
    assert dkim.publish == ("sel1._domainkey.doubled.test. 3600 IN CNAME "
                            "sel1.doubled.test.dkim.iad1.oracleemaildelivery.com.")


def test_dkim_doubled_in_the_parent_zone_of_a_subdomain_sender(knot: Knot) -> None:
    dkim = by_check(run(knot, "noreply@mail.good.test", selectors=("sel3",)))["dkim"]
    assert dkim.status == "error"
    assert "published as sel3._domainkey.mail.good.test.good.test" in dkim.reason
    assert "in the zone of good.test write sel3._domainkey.mail (relative)" in dkim.reason
    assert dkim.publish == ("sel3._domainkey.mail.good.test. 3600 IN CNAME "
                            "sel3.mail.good.test.dkim.iad1.oracleemaildelivery.com.")


def test_dkim_target_with_the_zone_appended(knot: Knot) -> None:
    dkim = one(knot, "doubledtarget")["dkim"]
    assert dkim.status == "error"
    assert "the CNAME target has the zone appended" in dkim.reason
    assert dkim.publish == ("sel1._domainkey.doubledtarget.test. 3600 IN CNAME "
                            "sel1.doubledtarget.test.dkim.iad1.oracleemaildelivery.com.")


def test_dkim_key_pasted_as_txt(knot: Knot) -> None:
    dkim = one(knot, "txtkey")["dkim"]
    assert dkim.status == "error"
    assert "holds a TXT key, not OCI's CNAME" in dkim.reason
    assert dkim.replaces == ('sel1._domainkey.txtkey.test. 3600 IN TXT "v=DKIM1; k=rsa; p=MIIB"',)


def test_domain_wide_sender_without_selector_warns(knot: Knot) -> None:
    dkim = by_check(run(knot, "@good.test", selectors=()))["dkim"]
    assert dkim.status == "warn"
    assert "@good.test is a domain-wide approved sender, which needs active DKIM" in dkim.reason


def test_address_sender_without_selector_is_not_checked(knot: Knot) -> None:
    dkim = by_check(run(knot, "noreply@nodkim.test", selectors=()))["dkim"]
    assert dkim.status == "ok"
    assert dkim.reason.startswith("not checked: oci_relay_dkim_selectors is empty")


def test_each_domain_is_held_to_its_own_selector(knot: Knot) -> None:
    findings = run(knot, "a@good.test", "b@othersel.test", "c@nodkim.test",
                   selectors=(SELECTOR, "sel2"))
    dkim = [(f.domain, f.name, f.status) for f in findings if f.check == "dkim"]
    assert dkim == [
        ("good.test", "sel1._domainkey.good.test", "ok"),
        ("othersel.test", "sel2._domainkey.othersel.test", "ok"),
        # A domain with no selector published is told about every selector.
        ("nodkim.test", "sel1._domainkey.nodkim.test", "error"),
        ("nodkim.test", "sel2._domainkey.nodkim.test", "error"),
    ]


# --- DMARC ------------------------------------------------------------------------------------

def test_dmarc_missing(knot: Knot) -> None:
    found = one(knot, "nodmarc")["dmarc"]
    assert found.status == "warn"
    assert found.reason.startswith("no DMARC record: _dmarc.nodmarc.test does not exist "
                                   "(NXDOMAIN)")
    assert found.publish == '_dmarc.nodmarc.test. 3600 IN TXT "v=DMARC1; p=none"'


def test_dmarc_invalid_tags(knot: Knot) -> None:
    found = one(knot, "baddmarc")["dmarc"]
    assert found.status == "error"
    assert "p=maybe: must be one of none, quarantine, reject" in found.reason
    assert "pct=200: must be a whole number from 0 to 100" in found.reason


def test_two_dmarc_records(knot: Knot) -> None:
    found = one(knot, "twodmarc")["dmarc"]
    assert found.status == "error"
    assert "2 DMARC records at _dmarc.twodmarc.test: receivers ignore them all" in found.reason
    assert found.publish == ('_dmarc.twodmarc.test. 3600 IN TXT '
                             '"v=DMARC1; p=reject; rua=mailto:dmarc@example.net"')


def test_subdomain_inherits_the_organisational_dmarc(knot: Knot) -> None:
    found = by_check(run(knot, "x@mail.good.test"))["dmarc"]
    assert found.status == "ok"
    assert "receivers use _dmarc.good.test" in found.reason


# --- DNS failures are never "missing" ---------------------------------------------------------

def test_server_that_does_not_answer_times_out() -> None:
    for silent in silent_server():
        started = time.monotonic()
        findings = dns.check(target("noreply@good.test"), client(silent.address, timeout=0.4))
        elapsed = time.monotonic() - started
    assert [f.status for f in findings] == ["error"] * 3
    assert all("timed out" in f.reason and "not missing" in f.reason for f in findings), findings
    assert not any(f.publish for f in findings)
    assert elapsed < 5, f"three bounded queries took {elapsed:.1f} s"


@pytest.mark.parametrize(("domain", "words"), [
    ("servfail.test", "got SERVFAIL"),
    ("unserved.test", "was REFUSED"),
    ("child.lame.test", "got a referral, not an answer"),
])
def test_failures_are_reported_as_such(knot: Knot, domain: str, words: str) -> None:
    findings = run(knot, f"noreply@{domain}")
    assert [f.status for f in findings] == ["error"] * 3
    assert all(words in f.reason for f in findings), findings
    assert not any(f.publish for f in findings)


def test_nxdomain_is_said_not_hidden(knot: Knot) -> None:
    spf = by_check(run(knot, "noreply@absent.good.test"))["spf"]
    assert spf.status == "error"
    assert "absent.good.test does not exist, NXDOMAIN" in spf.reason


# --- the suggested records fix the domain -----------------------------------------------------

def fixed_zone(records: list[Record], origin: str, findings: list[dns.Finding]) -> list[str]:
    """The zone's lines without the records findings replace, plus the lines they publish."""
    replaced = [line for f in findings for line in f.replaces]
    kept = [r.line() for r in records if not any(r.matches(origin, line) for line in replaced)]
    assert len(kept) == len(records) - len(replaced), "a replaced line is not in the zone"
    return kept + [f.publish for f in findings if f.publish]


@pytest.mark.parametrize("case", FIXABLE)
def test_suggested_records_make_the_check_pass(knot: Knot, case: str) -> None:
    origin = f"fix-{case}.test"
    before = run(knot, f"noreply@{origin}")
    assert any(f.status != "ok" for f in before), before
    knot.replace_zone(origin, fixed_zone(CASES[case](origin), origin, before))
    after = run(knot, f"noreply@{origin}")
    assert [(f.check, f.status) for f in after] == [
        ("spf", "ok"), ("dkim", "ok"), ("dmarc", "ok")], after
