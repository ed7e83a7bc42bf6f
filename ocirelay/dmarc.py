"""DMARC records (RFC 7489): parse the tags of a `v=DMARC1` record, say what is wrong, rewrite."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

VERSION = "v=DMARC1"
POLICIES = ("none", "quarantine", "reject")

_CANDIDATE = re.compile(r"^\s*v\s*=\s*dmarc1\s*(;|$)", re.IGNORECASE)
_EXACT_VERSION = re.compile(r"^v\s*=\s*DMARC1$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^!\s,]+(?:![0-9]+[kmgtKMGT]?)?$")


def _one_of(*allowed: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value.lower() in allowed else f"must be one of {', '.join(allowed)}"
    return check


def _number(low: int, high: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        ok = value.isdigit() and low <= int(value) <= high
        return None if ok else f"must be a whole number from {low} to {high}"
    return check


def _uris(value: str) -> str | None:
    for uri in (u.strip() for u in value.split(",")):
        if not _URI.match(uri):
            return f"{uri!r} is not a URI (write mailto:reports@example.com)"
        if uri.lower().startswith("mailto:") and "@" not in uri:
            return f"{uri!r} has no @ in its address"
    return None


def _colon_list(allowed: tuple[str, ...] | None) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        items = [item.strip() for item in value.split(":")]
        bad = [i for i in items if not i or (allowed is not None and i.lower() not in allowed)]
        if bad:
            return f"must be a colon-separated list of {', '.join(allowed or ('names',))}"
        return None
    return check


# RFC 7489 tags, plus np/psd/t from DMARCbis (accepted so current records are not flagged).
TAGS: dict[str, Callable[[str], str | None]] = {
    "p": _one_of(*POLICIES),
    "sp": _one_of(*POLICIES),
    "np": _one_of(*POLICIES),
    "adkim": _one_of("r", "s"),
    "aspf": _one_of("r", "s"),
    "pct": _number(0, 100),
    "rua": _uris,
    "ruf": _uris,
    "fo": _colon_list(("0", "1", "d", "s")),
    "rf": _colon_list(None),
    "ri": _number(0, 2**32 - 1),
    "psd": _one_of("y", "n", "u"),
    "t": _one_of("y", "n"),
}


@dataclass(frozen=True)
class Dmarc:
    text: str
    tags: tuple[tuple[str, str], ...]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    def tag(self, name: str) -> str | None:
        return next((value for key, value in self.tags if key == name), None)


def is_dmarc(text: str) -> bool:
    """True for a record meant as DMARC, even with a wrongly written version (reported)."""
    return bool(_CANDIDATE.match(text))


def parse(text: str) -> Dmarc:
    parts = [part.strip() for part in text.split(";")]
    parts = [part for part in parts if part]
    errors: list[str] = []
    warnings: list[str] = []
    if not parts or not _EXACT_VERSION.match(parts[0]):
        errors.append("the record must start with exactly v=DMARC1 (upper case)")
    tags: list[tuple[str, str]] = []
    for part in parts[1:]:
        problem = _tag_problem(part, [name for name, _ in tags])
        if problem is None:
            name, value = (x.strip() for x in part.split("=", 1))
            tags.append((name.lower(), value))
        elif problem.startswith("unknown"):
            warnings.append(problem)
        else:
            errors.append(problem)
    if not any(name == "p" for name, _ in tags):
        errors.append("no valid p= tag: the policy is required (start with p=none)")
    return Dmarc(text, tuple(tags), tuple(errors), tuple(warnings))


def _tag_problem(part: str, seen: list[str]) -> str | None:
    if "=" not in part:
        return f"{part!r} is not a tag=value pair"
    name, value = (x.strip() for x in part.split("=", 1))
    name = name.lower()
    if name in seen:
        return f"{name}= appears more than once"
    check = TAGS.get(name)
    if check is None:
        return f"unknown tag {part!r} (receivers ignore it)"
    problem = check(value)
    return f"{name}={value}: {problem}" if problem else None


def fixed(record: Dmarc) -> str:
    """The record with only its valid tags, and p=none when it had no valid policy."""
    tags = list(record.tags)
    if not any(name == "p" for name, _ in tags):
        tags.insert(0, ("p", "none"))
    return "; ".join([VERSION, *(f"{name}={value}" for name, value in tags)])


def describe(record: Dmarc) -> str:
    """The policy in words: what receivers do with mail that fails DMARC."""
    policy = (record.tag("p") or "none").lower()
    words = {
        "none": "p=none: monitoring only, receivers take no action on failing mail",
        "quarantine": "p=quarantine: failing mail goes to spam",
        "reject": "p=reject: failing mail is refused",
    }[policy]
    extras = [f"{name}={record.tag(name)}" for name in ("sp", "pct", "adkim", "aspf")
              if record.tag(name) is not None]
    reports = record.tag("rua")
    parts = [words, *extras, f"reports to {reports}" if reports else "no aggregate reports (rua=)"]
    return "; ".join(parts)


def strictest(records: list[Dmarc]) -> Dmarc:
    """The valid record with the strictest policy (the first one when none is valid)."""
    valid = [r for r in records if not r.errors]
    rank = {policy: i for i, policy in enumerate(POLICIES)}
    return max(valid, key=lambda r: rank[(r.tag("p") or "none").lower()], default=records[0])
