"""SPF and DMARC record logic without DNS: parsing, recursive counting, rewriting, zone lines."""

from __future__ import annotations

import dns.rdata
import dns.zone
import pytest
from hypothesis import given
from hypothesis import strategies as st
from knot_server import INSTALL_HINT, Knot

from ocirelay import dmarc, spf
from ocirelay.dns import DnsSetupError, parse_nameserver, quote_txt, txt_line, txt_value

ORACLE = "rp.oracleemaildelivery.com"


def fetcher(records: dict[str, list[str]]) -> spf.Fetch:
    def fetch(name: str) -> spf.Fetched:
        if name not in records:
            return spf.Fetched(error=f"{name} does not exist (NXDOMAIN)")
        return spf.Fetched(tuple(records[name]))
    return fetch


# --- SPF parsing ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["v=spf1", "v=spf1 -all", "V=SPF1 mx ~all"])
def test_is_spf(text: str) -> None:
    assert spf.is_spf(text)


@pytest.mark.parametrize("text", ["v=spf10 -all", "spf1 -all", "v=DMARC1; p=none", ""])
def test_is_not_spf(text: str) -> None:
    assert not spf.is_spf(text)


def test_valid_terms_have_no_errors() -> None:
    record = spf.parse("v=spf1 include:_spf.google.com ip4:192.0.2.0/24 ip6:2001:db8::/32 a "
                       "mx/24 a:mail.example.com//64 ptr exists:%{i}._spf.example.com "
                       "?include:x.example.net redirect=_spf.example.org exp=explain.example.org "
                       "custom=anything")
    assert record.errors == ()


@pytest.mark.parametrize(("term", "words"), [
    ("inlude:x.example.com", "unknown mechanism 'inlude'"),
    ("ip4:300.1.1.1", "not an IPv4 address"),
    ("ip4:2001:db8::1", "not an IPv4 address"),
    ("ip6:192.0.2.1", "not an IPv6 address"),
    ("ip4", "needs an address"),
    ("include", "needs a domain"),
    ("include:", "needs a domain"),
    ("include:localhost", "is not a domain name"),
    ("include:example.123", "valid top-level label"),
    ("a/33", "at most 32"),
    ("mx//129", "at most 128"),
    ("all:x", "all takes no value"),
    ("+redirect=x.example.com", "takes no qualifier"),
    ("include=x.example.com", "written with = instead of :"),
    ("include:%{z}.example.com", "malformed macro"),
])
def test_invalid_terms(term: str, words: str) -> None:
    errors = spf.parse(f"v=spf1 {term} -all").errors
    assert len(errors) == 1 and words in errors[0], errors


def test_repeated_redirect_is_an_error() -> None:
    assert spf.parse("v=spf1 redirect=a.example redirect=b.example").errors == (
        "redirect= appears more than once",)


# --- SPF walk ---------------------------------------------------------------------------------

def test_lookups_are_counted_recursively() -> None:
    records = {"a.example": ["v=spf1 a mx include:b.example -all"],
               "b.example": ["v=spf1 ip4:192.0.2.1 exists:%{i}.b.example ptr -all"]}
    walked = spf.walk(spf.parse("v=spf1 include:a.example ip4:192.0.2.0/24 ~all"), "x.example",
                      fetcher(records))
    assert walked.lookups == 1 + 3 + 2
    assert walked.problems == []
    assert [(r.domain, r.path) for r in walked.reached] == [
        ("a.example", ("x.example",)), ("b.example", ("x.example", "a.example"))]


def test_redirect_counts_and_is_followed_without_all() -> None:
    walked = spf.walk(spf.parse("v=spf1 mx redirect=_spf.example"), "x.example",
                      fetcher({"_spf.example": [f"v=spf1 include:{ORACLE} -all"]}))
    assert walked.lookups == 3
    assert [r.domain for r in walked.reached if r.effective] == ["_spf.example", ORACLE]


def test_redirect_with_all_is_ignored_and_said() -> None:
    walked = spf.walk(spf.parse("v=spf1 redirect=_spf.example -all"), "x.example", fetcher({}))
    assert walked.lookups == 0
    assert walked.warnings == ["x.example: redirect= is ignored because the record has all"]


def test_include_loop_is_a_problem_not_a_hang() -> None:
    records = {"a.example": ["v=spf1 include:b.example -all"],
               "b.example": ["v=spf1 include:a.example -all"]}
    walked = spf.walk(spf.parse("v=spf1 include:a.example -all"), "x.example", fetcher(records))
    assert walked.problems == ["x.example → a.example → b.example → a.example: include loop "
                               "(receivers return permerror)"]


def test_missing_and_duplicate_nested_records_are_problems() -> None:
    records = {"two.example": ["v=spf1 -all", "v=spf1 mx -all"], "none.example": []}
    walked = spf.walk(spf.parse("v=spf1 include:two.example include:none.example "
                                "include:gone.example -all"), "x.example", fetcher(records))
    assert walked.problems == [
        "include:two.example: the name has 2 SPF records (receivers return permerror)",
        "include:none.example: the name has no SPF record (receivers return permerror)",
        "include:gone.example: gone.example does not exist (NXDOMAIN)"]


def test_qualified_include_does_not_pass() -> None:
    walked = spf.walk(spf.parse(f"v=spf1 -include:{ORACLE} ~all"), "x.example",
                      fetcher({ORACLE: ["v=spf1 -all"]}))
    assert [(r.domain, r.effective, r.qualifier) for r in walked.reached] == [
        (ORACLE, False, "-")]


def test_terms_after_all_are_never_used() -> None:
    walked = spf.walk(spf.parse(f"v=spf1 -all include:{ORACLE}"), "x.example", fetcher({}))
    assert walked.reached == [] and walked.lookups == 0
    assert walked.warnings == [f"x.example: include:{ORACLE} comes after all and is never used"]


def test_macro_include_is_counted_not_followed() -> None:
    walked = spf.walk(spf.parse("v=spf1 include:%{d}.spf.example -all"), "x.example",
                      fetcher({}))
    assert walked.lookups == 1 and walked.problems == []
    assert "depends on the sender" in walked.notes[0]


def test_walk_is_bounded() -> None:
    chain = {f"n{i}.example": [f"v=spf1 include:n{i + 1}.example -all"] for i in range(100)}
    walked = spf.walk(spf.parse("v=spf1 include:n0.example -all"), "x.example", fetcher(chain))
    assert walked.truncated and walked.fetches <= spf.MAX_FETCHES


# --- SPF rewriting ----------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after"), [
    ("v=spf1 mx -all", f"v=spf1 mx include:{ORACLE} -all"),
    ("v=spf1 mx", f"v=spf1 mx include:{ORACLE} ~all"),
    (f"v=spf1 include:{ORACLE} +all", f"v=spf1 include:{ORACLE} ~all"),
    ("v=spf1 ?all", f"v=spf1 include:{ORACLE} ~all"),
    ("v=spf1 bad:x mx -all", f"v=spf1 mx include:{ORACLE} -all"),
    (f"v=spf1 -include:{ORACLE} -all", f"v=spf1 include:{ORACLE} -all"),
    (f"v=spf1 -all include:{ORACLE}", f"v=spf1 include:{ORACLE} -all"),
    ("v=spf1 mx redirect=a.example redirect=b.example",
     f"v=spf1 mx include:{ORACLE} redirect=a.example"),
])
def test_fixed(before: str, after: str) -> None:
    assert spf.fixed(spf.parse(before), ORACLE, frozenset({ORACLE})) == after


def test_fixed_keeps_a_record_that_already_passes() -> None:
    text = f"v=spf1 ip4:192.0.2.0/24 include:{ORACLE} -all"
    assert spf.fixed(spf.parse(text), ORACLE) == text


def test_merge_keeps_each_mechanism_once_and_the_first_all() -> None:
    merged = spf.merge([spf.parse("v=spf1 mx a -all"), spf.parse("v=spf1 mx ip4:192.0.2.1 ~all")])
    assert merged.text == "v=spf1 mx a ip4:192.0.2.1 -all"


TERMS = st.sampled_from([
    "mx", "a", "ip4:192.0.2.0/24", "ip6:2001:db8::/32", "include:_spf.example.com",
    f"include:{ORACLE}", f"-include:{ORACLE}", "-all", "~all", "+all", "?all", "all",
    "inlude:typo.example", "ip4:999.1.1.1", "redirect=_spf.example.org", "exp=x.example.org",
    "+redirect=x.example", "a/40", "ptr", "custom=1"])


@given(st.lists(TERMS, max_size=8))
def test_fixed_record_is_always_valid_and_passes_oracle(terms: list[str]) -> None:
    fixed = spf.parse(spf.fixed(spf.parse(" ".join(["v=spf1", *terms])), ORACLE,
                                frozenset({ORACLE})))
    assert fixed.errors == ()
    walked = spf.walk(fixed, "x.example", fetcher({ORACLE: ["v=spf1 -all"],
                                                   "_spf.example.com": ["v=spf1 -all"],
                                                   "_spf.example.org": ["v=spf1 -all"]}))
    assert any(r.domain == ORACLE and r.effective for r in walked.reached), fixed.text
    assert walked.warnings == []
    all_terms = [t for t in fixed.terms if t.name == "all" and not t.modifier]
    assert len(all_terms) <= 1 and all(t.qualifier in "~-" for t in all_terms)


# --- DMARC ------------------------------------------------------------------------------------

def test_dmarc_valid_record() -> None:
    record = dmarc.parse("v=DMARC1; p=quarantine; sp=reject; pct=50; adkim=s; aspf=r; "
                         "rua=mailto:a@example.com,mailto:b@example.com!10m; fo=0:d; ri=86400;")
    assert (record.errors, record.warnings) == ((), ())
    assert dmarc.describe(record).startswith("p=quarantine: failing mail goes to spam; "
                                             "sp=reject; pct=50")


@pytest.mark.parametrize(("text", "words"), [
    ("v=DMARC1", "no valid p= tag"),
    ("v=dmarc1; p=none", "exactly v=DMARC1"),
    ("v=DMARC1; p=none; p=reject", "p= appears more than once"),
    ("v=DMARC1; p=none; rua=a@example.com", "is not a URI"),
    ("v=DMARC1; p=none; rua=mailto:nobody", "has no @"),
    ("v=DMARC1; p=none; adkim=x", "adkim=x: must be one of r, s"),
    ("v=DMARC1; p=none; fo=2", "fo=2: must be a colon-separated list"),
    ("v=DMARC1; p=none; junk", "is not a tag=value pair"),
])
def test_dmarc_errors(text: str, words: str) -> None:
    assert dmarc.is_dmarc(text)
    assert any(words in e for e in dmarc.parse(text).errors), dmarc.parse(text).errors


def test_dmarc_unknown_tag_is_a_warning() -> None:
    record = dmarc.parse("v=DMARC1; p=none; foo=bar")
    assert record.errors == () and "unknown tag" in record.warnings[0]


def test_dmarc_fixed_drops_bad_tags_and_adds_a_policy() -> None:
    assert dmarc.fixed(dmarc.parse("v=DMARC1; p=maybe; pct=200; rua=mailto:a@example.com")) \
        == "v=DMARC1; p=none; rua=mailto:a@example.com"


def test_dmarc_strictest() -> None:
    records = [dmarc.parse(t) for t in ("v=DMARC1; p=none", "v=DMARC1; p=reject",
                                        "v=DMARC1; p=quarantine")]
    assert dmarc.strictest(records).tag("p") == "reject"


# --- zone lines and options -------------------------------------------------------------------

def test_long_txt_is_split_into_255_byte_strings_that_parse_back() -> None:
    text = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(40)) + ' "quoted\\ -all'
    rdata_text = quote_txt(text)
    assert all(len(part) <= 255 + 2 for part in rdata_text.split('" "'))
    parsed = dns.rdata.from_text("IN", "TXT", rdata_text)
    assert txt_value(parsed) == text


def test_txt_line_is_a_zone_file_line() -> None:
    line = txt_line("example.com", "v=spf1 -all")
    zone = dns.zone.from_text("@ 3600 IN SOA ns hostmaster 1 2 3 4 5\n@ 3600 IN NS ns\n" + line,
                              origin="example.com.")
    assert txt_value(zone.find_rdataset("@", "TXT")[0]) == "v=spf1 -all"


@pytest.mark.parametrize(("text", "parsed"), [
    ("192.0.2.53", ("192.0.2.53", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("::1", ("::1", 53)),
    ("[::1]:5353", ("::1", 5353)),
])
def test_parse_nameserver(text: str, parsed: tuple[str, int]) -> None:
    assert parse_nameserver(text) == parsed


@pytest.mark.parametrize("text", ["ns1.example.com", "127.0.0.1:0", "127.0.0.1:x", "[::1]:70000"])
def test_parse_nameserver_rejects(text: str) -> None:
    with pytest.raises(DnsSetupError, match="--nameserver"):
        parse_nameserver(text)


def test_missing_knotd_fails_with_the_install_hint(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: object) -> None:
    monkeypatch.setattr("knot_server.shutil.which", lambda *args, **kwargs: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install knot"):
        Knot(tmp_path, {}).start()  # type: ignore[arg-type]
    assert "apt-get install knot" in INSTALL_HINT
