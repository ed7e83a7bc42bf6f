"""SPF records (RFC 7208): parse, count DNS-querying terms recursively, rewrite.

Nothing here knows about Oracle or performs DNS itself: `walk` is given a function that fetches
the SPF records of a name, so the RFC logic stays testable on its own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

VERSION = "v=spf1"
LOOKUP_LIMIT = 10
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
# RFC 7208 4.6.4: these terms cause DNS queries and count toward the limit of 10.
QUERYING = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
QUALIFIERS = "+-~?"
# Bounds of the recursive walk, so a loop or a huge tree cannot stall the check.
MAX_FETCHES = 40
MAX_DEPTH = 10

_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$")
_MECHANISM = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(.*)$")
_MACRO = re.compile(r"%\{[slodiphcrtvSLODIPHCRTV]\d*[rR]?[.\-+,/_=]*\}|%%|%_|%-")
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_TOPLABEL = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_DUAL_CIDR = re.compile(r"^(?::(?P<domain>[^/]+))?(?:/(?P<v4>\d+))?(?://(?P<v6>\d+))?$")


@dataclass(frozen=True)
class Term:
    """One term of a record; `error` says why it is invalid (None when it is valid)."""

    text: str
    name: str
    value: str
    qualifier: str
    modifier: bool
    error: str | None = None

    @property
    def queries_dns(self) -> bool:
        return self.name in QUERYING and self.error is None

    @property
    def target(self) -> str | None:
        """The domain an include or redirect points at, lower case, without the final dot."""
        if self.name not in ("include", "redirect") or self.error is not None:
            return None
        return self.value.lower().rstrip(".")


@dataclass(frozen=True)
class Record:
    text: str
    terms: tuple[Term, ...]

    @property
    def errors(self) -> tuple[str, ...]:
        found = [f"{t.text!r}: {t.error}" for t in self.terms if t.error]
        for name in ("redirect", "exp"):
            if sum(1 for t in self.terms if t.modifier and t.name == name) > 1:
                found.append(f"{name}= appears more than once")
        return tuple(found)

    @property
    def all_term(self) -> Term | None:
        return next((t for t in self.terms if t.name == "all" and not t.modifier), None)


@dataclass(frozen=True)
class Fetched:
    """What a lookup of a name's SPF records gave: the records, or why there are none."""

    records: tuple[str, ...] = ()
    error: str | None = None


Fetch = Callable[[str], Fetched]


@dataclass(frozen=True)
class Reached:
    """An include or redirect target met during the walk."""

    domain: str
    path: tuple[str, ...]
    how: str
    effective: bool
    qualifier: str


@dataclass
class Walk:
    lookups: int = 0
    fetches: int = 0
    reached: list[Reached] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    truncated: bool = False


def is_spf(text: str) -> bool:
    lowered = text.lower()
    return lowered == VERSION or lowered.startswith(VERSION + " ")


def domain_spec_error(value: str) -> str | None:
    """Why `value` is not a valid domain-spec (RFC 7208 7.1), or None."""
    if not value:
        return "needs a domain"
    if not value.isascii() or any(c.isspace() or not c.isprintable() for c in value):
        return "holds a character that is not printable ASCII"
    literal = _MACRO.sub("", value)
    if "%" in literal:
        return "holds a malformed macro (a lone %)"
    if literal != value:
        return None
    labels = value.rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels[:-1]):
        return f"{value!r} is not a domain name"
    if not _TOPLABEL.match(labels[-1]):
        return f"{value!r} does not end in a valid top-level label"
    return None


def _cidr_error(match: re.Match[str]) -> str | None:
    if match["v4"] is not None and int(match["v4"]) > 32:
        return "an IPv4 prefix length is at most 32"
    if match["v6"] is not None and int(match["v6"]) > 128:
        return "an IPv6 prefix length is at most 128"
    return None


def _network_error(name: str, rest: str) -> str | None:
    if not rest.startswith(":") or len(rest) < 2:
        return f"{name} needs an address, e.g. {name}:192.0.2.0/24" if name == "ip4" \
            else f"{name} needs an address, e.g. {name}:2001:db8::/32"
    try:
        network = ipaddress.ip_network(rest[1:], strict=False)
    except ValueError:
        return f"{rest[1:]!r} is not an {'IPv4' if name == 'ip4' else 'IPv6'} address or network"
    if network.version != (4 if name == "ip4" else 6):
        return f"{rest[1:]!r} is not an {'IPv4' if name == 'ip4' else 'IPv6'} address"
    return None


def _mechanism_error(name: str, rest: str) -> str | None:
    if name not in MECHANISMS:
        return f"unknown mechanism {name!r} (known: {', '.join(sorted(MECHANISMS))})"
    if name == "all":
        return None if rest == "" else "all takes no value"
    if name in ("ip4", "ip6"):
        return _network_error(name, rest)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            return f"{name} needs a domain, e.g. {name}:_spf.example.com"
        return domain_spec_error(rest[1:])
    if name == "ptr":
        return domain_spec_error(rest[1:]) if rest.startswith(":") else (
            None if rest == "" else "ptr takes only :domain")
    match = _DUAL_CIDR.match(rest)  # a and mx
    if match is None:
        return f"{name} takes [:domain][/prefix][//prefix6]"
    if match["domain"] is not None and (problem := domain_spec_error(match["domain"])):
        return problem
    return _cidr_error(match)


def _modifier(token: str, name: str, value: str) -> Term:
    if name in ("redirect", "exp"):
        return Term(token, name, value, "", True, domain_spec_error(value))
    if name in MECHANISMS:
        return Term(token, name, value, "", True, f"looks like the mechanism {name} written "
                    f"with = instead of : (receivers ignore it); write {name}:{value}")
    return Term(token, name, value, "", True)


def parse_term(token: str) -> Term:
    modifier = _MODIFIER.match(token)
    if modifier:
        return _modifier(token, modifier[1].lower(), modifier[2])
    qualifier = token[0] if token[0] in QUALIFIERS else "+"
    body = token[1:] if token[0] in QUALIFIERS else token
    if (modifier := _MODIFIER.match(body)) is not None:
        return Term(token, modifier[1].lower(), modifier[2], qualifier, True,
                    "a modifier takes no qualifier (+ - ~ ?)")
    mechanism = _MECHANISM.match(body)
    if mechanism is None:
        return Term(token, body, "", qualifier, False, "is not a mechanism or a modifier")
    name, rest = mechanism[1].lower(), mechanism[2]
    value = rest[1:] if rest.startswith(":") else rest
    return Term(token, name, value, qualifier, False, _mechanism_error(name, rest))


def parse(text: str) -> Record:
    """Parse a record that `is_spf`; every invalid term is kept, with its error."""
    tokens = text.split()
    return Record(text, tuple(parse_term(token) for token in tokens[1:]))


def walk(record: Record, domain: str, fetch: Fetch) -> Walk:
    """Follow includes and redirects from `record`, counting DNS-querying terms recursively."""
    result = Walk()
    _walk_record(record, (domain.lower().rstrip("."),), True, fetch, result)
    return result


def _walk_record(record: Record, path: tuple[str, ...], effective: bool, fetch: Fetch,
                 result: Walk) -> None:
    all_term = record.all_term
    # Dead terms are the domain owner's to fix in their own record, mere notes further down.
    remarks = result.warnings if len(path) == 1 else result.notes
    after_all = False
    for term in record.terms:
        if term.error is not None or (term.modifier and term.name != "redirect"):
            continue
        if term.name == "redirect" and all_term is not None:
            remarks.append(f"{path[-1]}: redirect= is ignored because the record has all")
            continue
        if after_all and not term.modifier:
            remarks.append(f"{path[-1]}: {term.text} comes after all and is never used")
            continue
        after_all = after_all or term.name == "all"
        if term.queries_dns:
            result.lookups += 1
        if term.target is not None:
            passes = effective and (term.modifier or term.qualifier == "+")
            result.reached.append(Reached(term.target, path, term.name, passes, term.qualifier))
            _follow(term, path, passes, fetch, result)


def _follow(term: Term, path: tuple[str, ...], effective: bool, fetch: Fetch,
            result: Walk) -> None:
    target = term.target or ""
    where = f"{term.name}:{target}" if term.name == "include" else f"redirect={target}"
    if "%" in target:
        result.notes.append(f"{where} depends on the sender (macro); not followed")
        return
    if target in path:
        result.problems.append(f"{' → '.join(path)} → {target}: include loop (receivers "
                               "return permerror)")
        return
    if result.fetches >= MAX_FETCHES or len(path) > MAX_DEPTH:
        result.truncated = True
        return
    result.fetches += 1
    fetched = fetch(target)
    nested = _nested_record(where, fetched, result)
    if nested is not None:
        _walk_record(nested, (*path, target), effective, fetch, result)


def _nested_record(where: str, fetched: Fetched, result: Walk) -> Record | None:
    if fetched.error is not None:
        result.problems.append(f"{where}: {fetched.error}")
        return None
    if not fetched.records:
        result.problems.append(f"{where}: the name has no SPF record (receivers return "
                               "permerror)")
        return None
    if len(fetched.records) > 1:
        result.problems.append(f"{where}: the name has {len(fetched.records)} SPF records "
                               "(receivers return permerror)")
        return None
    nested = parse(fetched.records[0])
    result.problems.extend(f"{where}: {error} (receivers return permerror)"
                           for error in nested.errors)
    return nested


def merge(records: Iterable[Record]) -> Record:
    """One record holding the mechanisms of several, each once, with the first `all`."""
    mechanisms: list[Term] = []
    modifiers: list[Term] = []
    all_term: Term | None = None
    for record in records:
        for term in record.terms:
            if term.name == "all" and not term.modifier:
                all_term = all_term or term
            elif term.text.lower() not in {t.text.lower() for t in mechanisms + modifiers}:
                (modifiers if term.modifier else mechanisms).append(term)
    if all_term is not None:
        modifiers = [t for t in modifiers if t.name != "redirect"]
    terms = [*mechanisms, *([all_term] if all_term else []), *modifiers]
    return Record(" ".join([VERSION, *(t.text for t in terms)]), tuple(terms))


def fixed(record: Record, include: str, drop: frozenset[str] = frozenset()) -> str:
    """The record without invalid terms, dead terms and `drop`ped includes; `+all` and `?all`
    softened to `~all` (added when missing); `include:<include>` before the `all` unless it
    already gives a pass."""
    terms = [t for t in record.terms if t.error is None
             and not (t.name == "include" and not t.modifier and t.target in drop)]
    terms = _without_repeated_modifiers(_without_dead_mechanisms(terms))
    if not any((t.name == "all" and not t.modifier) or t.name == "redirect" for t in terms):
        terms.append(parse_term("~all"))
    terms = [replace(t, text="~all", qualifier="~") if t.name == "all" and not t.modifier
             and t.qualifier in "+?" else t for t in terms]
    if not _passes_through(terms, include):
        position = next((i for i, t in enumerate(terms) if t.name == "all" or t.modifier),
                        len(terms))
        terms.insert(position, parse_term(f"include:{include}"))
    return " ".join([VERSION, *(t.text for t in terms)])


def _without_dead_mechanisms(terms: list[Term]) -> list[Term]:
    """Drop mechanisms after `all`: receivers never reach them."""
    kept: list[Term] = []
    after_all = False
    for term in terms:
        if not (after_all and not term.modifier):
            kept.append(term)
        after_all = after_all or (term.name == "all" and not term.modifier)
    return kept


def _without_repeated_modifiers(terms: list[Term]) -> list[Term]:
    """Keep the first redirect= and exp=; drop redirect= when an `all` makes it ignored."""
    has_all = any(t.name == "all" and not t.modifier for t in terms)
    kept: list[Term] = []
    for term in terms:
        single = term.modifier and term.name in ("redirect", "exp")
        if single and (any(k.modifier and k.name == term.name for k in kept)
                       or (term.name == "redirect" and has_all)):
            continue
        kept.append(term)
    return kept


def _passes_through(terms: list[Term], include: str) -> bool:
    for term in terms:
        if term.name == "all" and not term.modifier:
            return False
        if term.name == "include" and term.target == include and term.qualifier == "+":
            return True
    return False
