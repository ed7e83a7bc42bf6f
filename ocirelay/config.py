"""Validate a relay description (a mapping of oci_relay_* keys) into a RelayConfig.

Every problem is collected, not just the first, so the operator fixes the file in one go.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ocirelay import regions
from ocirelay.problems import SECRET_SHOWN_AS, Problem, errors
from ocirelay.schema import KEYS, KEYS_BY_NAME, PREFIX, TLS_LEVELS, Key

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OCID_USER = re.compile(r"^ocid1\.user\.[^@\s]+@ocid1\.tenancy\.[^@\s]+$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
# Wider than these would let half the internet relay through the host.
_MIN_PREFIX = {4: 8, 6: 32}


@dataclass(frozen=True)
class Password:
    """The SMTP password; its repr never shows it, so it cannot leak through a traceback."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Password(***)"


@dataclass(frozen=True)
class RelayConfig:
    region: regions.Region
    smtp_host: str
    port: int
    username: str
    password: Password
    approved_senders: tuple[str, ...]
    default_sender: str
    unapproved_senders: str
    tls_level: str
    tls_ca_file: str | None
    messages_per_minute: int
    message_size_limit: int
    relay_networks: tuple[str, ...]
    root_alias: str | None
    map_type: str
    host_lookup: str
    preflight: bool
    dkim_selectors: tuple[str, ...]
    dns_check: str

    @property
    def relayhost(self) -> str:
        return f"[{self.smtp_host}]:{self.port}"

    @property
    def hub_mode(self) -> bool:
        return bool(self.relay_networks)

    @property
    def approved_addresses(self) -> tuple[str, ...]:
        return tuple(s for s in self.approved_senders if not s.startswith("@"))

    @property
    def approved_domains(self) -> tuple[str, ...]:
        return tuple(s[1:] for s in self.approved_senders if s.startswith("@"))

    @property
    def sender_domains(self) -> tuple[str, ...]:
        """Every domain that sends through OCI, once, in the order given."""
        domains = [s.rsplit("@", 1)[1] for s in self.approved_senders]
        return tuple(dict.fromkeys(domains))


@dataclass(frozen=True)
class Validated:
    config: RelayConfig | None
    problems: list[Problem]


def shown(key: Key, value: Any) -> str:
    if key.secret:
        return SECRET_SHOWN_AS
    return repr(value)


def is_host_name(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_HOST_LABEL.match(x) for x in labels)


def address_problem(address: str, *, domain_wide_allowed: bool) -> str | None:
    """Why `address` is not a usable sender address, or None."""
    if address.count("@") != 1:
        return "an address needs exactly one @"
    local, domain = address.split("@")
    if not local:
        return None if domain_wide_allowed and is_host_name(domain) else (
            "a domain-wide entry (@domain) is not allowed here" if is_host_name(domain)
            else f"{domain!r} is not a valid domain")
    if not _LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") \
            or ".." in local:
        return f"{local!r} is not a valid local part (letters, digits, and . _ + - etc.)"
    if not is_host_name(domain):
        return f"{domain!r} is not a valid domain (it needs a dot, e.g. example.com)"
    return None


def covered_by(address: str, approved: tuple[str, ...]) -> bool:
    address = address.lower()
    domain = address.rsplit("@", 1)[-1]
    return any(address == a.lower() or a.lower() == f"@{domain}" for a in approved)


class _Checker:
    """Accumulates problems while reading typed values out of the raw mapping."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def add(self, key: str, message: str, fix: str, *, value: Any = None,
            allowed: str | None = None, severity: str = "error") -> None:
        spec = KEYS_BY_NAME.get(key)
        value_text = None if value is None else (shown(spec, value) if spec else repr(value))
        self.problems.append(Problem(key, message, fix, value_text, allowed,
                                     severity))  # type: ignore[arg-type]

    def typed(self, key: Key) -> Any:
        """The key's value coerced to its type, its default, or None after a problem."""
        if key.name not in self.raw or self.raw[key.name] is None:
            if key.required:
                self.add(key.name, "is required and missing", f"set {key.name}: {key.description}")
            return key.default
        value = self.raw[key.name]
        coerced = self._coerce(key, value)
        if coerced is None:
            return None
        for item in coerced if isinstance(coerced, list) else [coerced]:
            if isinstance(item, str) and _CONTROL.search(item):
                self.add(key.name, "holds a control character (newline, CR, NUL, tab...)",
                         "remove it: these break the generated files and the SMTP dialogue",
                         value=None if key.secret else item)
                return None
        return coerced

    def _coerce(self, key: Key, value: Any) -> Any:
        wrong = f"has the wrong type: {type(value).__name__}"
        if key.type == "str":
            if isinstance(value, str):
                return value
            if isinstance(value, int | float) and not isinstance(value, bool) and key.secret:
                # YAML reads an all-digit password as a number and would drop leading zeros.
                self.add(key.name, f"{wrong}, not a string", "quote the value in YAML")
                return None
            self.add(key.name, f"{wrong}, expected a string", "write it as a quoted string",
                     value=value)
            return None
        if key.type == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                return int(value)
            self.add(key.name, f"{wrong}, expected a whole number", "write a number such as "
                     f"{key.default}", value=value)
            return None
        if key.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            self.add(key.name, f"{wrong}, expected true or false", "write true or false",
                     value=value)
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        example = "[noreply@example.com]" if "senders" in key.name else "[10.0.0.0/16]"
        self.add(key.name, f"{wrong}, expected a list of strings",
                 f"write a YAML list, e.g. {key.name}: {example}", value=value)
        return None


def _looks_misspelled(name: str) -> bool:
    """A key close to ours but without our exact prefix (oci_rely_port), not one that merely
    contains it on purpose (vault_oci_relay_password)."""
    return PREFIX not in name and bool(
        difflib.get_close_matches(name, list(KEYS_BY_NAME), n=1, cutoff=0.8))


def _check_unknown_keys(raw: dict[str, Any], check: _Checker) -> None:
    known = list(KEYS_BY_NAME)
    for name in raw:
        if name in KEYS_BY_NAME:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        if name.startswith(PREFIX) or close:
            hint = f"did you mean {close[0]}?" if close else "see `ocirelay validate --help` " \
                "or the README's configuration reference for the known keys"
            check.add(name, "is not a known key", f"rename or remove it ({hint})",
                      allowed=close[0] if close else None)


def _check_region(check: _Checker) -> regions.Region | None:
    name = check.typed(KEYS_BY_NAME["oci_relay_region"])
    if not isinstance(name, str):
        return None
    region = regions.lookup(name.strip())
    if region is None:
        close = regions.closest_names(name)
        check.add("oci_relay_region", "is not a known OCI region",
                  f"use a region identifier such as {close[0] if close else 'us-ashburn-1'}; "
                  "`ocirelay regions` lists them all",
                  value=name, allowed=", ".join(close) if close else "see `ocirelay regions`")
    return region


def _check_port(check: _Checker) -> int | None:
    port = check.typed(KEYS_BY_NAME["oci_relay_port"])
    allow_25 = check.typed(KEYS_BY_NAME["oci_relay_allow_port_25"])
    if port is None:
        return None
    if port == 25 and not allow_25:
        check.add("oci_relay_port", "port 25 is blocked for every OCI compute instance",
                  "use 587 (STARTTLS); only a host outside OCI may use 25, with "
                  "oci_relay_allow_port_25: true", value=port, allowed="587, 465")
        return None
    if port not in (25, 465, 587):
        check.add("oci_relay_port", "is not a port OCI Email Delivery listens on",
                  "use 587 (STARTTLS, the usual choice) or 465 (TLS from the first byte)",
                  value=port, allowed="587, 465 (25 with oci_relay_allow_port_25)")
        return None
    return int(port)


def _check_credentials(check: _Checker) -> tuple[str | None, Password | None]:
    username = check.typed(KEYS_BY_NAME["oci_relay_username"])
    password = check.typed(KEYS_BY_NAME["oci_relay_password"])
    if isinstance(username, str):
        if not username.strip():
            check.add("oci_relay_username", "is empty", "paste the SMTP credential's user name "
                      "from the OCI console (Identity > Users > SMTP credentials)")
            username = None
        elif ":" in username or any(c.isspace() for c in username):
            check.add("oci_relay_username", "holds a colon or white space, which an OCI SMTP "
                      "user name never does", "paste the user name exactly, without spaces",
                      value=username)
            username = None
        elif not _OCID_USER.match(username):
            check.add("oci_relay_username", "does not look like an OCI SMTP user name "
                      "(ocid1.user...@ocid1.tenancy....com)", "check that it is the SMTP "
                      "credential's user name, not a console login", value=username,
                      severity="warning")
    if isinstance(password, str):
        if not password:
            check.add("oci_relay_password", "is empty", "set the SMTP credential's password "
                      "(shown once by OCI when the credential is generated; make a new one if "
                      "it is lost)")
            password = None
        elif password != password.strip():
            check.add("oci_relay_password", "starts or ends with white space, which the "
                      "Postfix and Exim credential files cannot keep", "remove the stray space "
                      "copied with it, or generate a new SMTP credential", value=password)
            password = None
    return username, Password(password) if isinstance(password, str) else None


def _check_senders(check: _Checker) -> tuple[tuple[str, ...] | None, str | None]:
    approved = check.typed(KEYS_BY_NAME["oci_relay_approved_senders"])
    default = check.typed(KEYS_BY_NAME["oci_relay_default_sender"])
    good: list[str] = []
    if isinstance(approved, list):
        if not approved:
            check.add("oci_relay_approved_senders", "is empty", "list at least one approved "
                      "sender of the region, e.g. [noreply@example.com]")
        for entry in approved:
            if reason := address_problem(entry.strip(), domain_wide_allowed=True):
                check.add("oci_relay_approved_senders", f"entry {entry!r}: {reason}",
                          "write local@domain or @domain for a whole domain", value=entry,
                          allowed="local@domain, @domain")
            else:
                good.append(entry.strip().lower())
    if len(set(good)) != len(good):
        check.add("oci_relay_approved_senders", "lists the same sender twice", "remove the "
                  "duplicate", value=good, severity="warning")
    senders = tuple(dict.fromkeys(good)) or None
    if isinstance(default, str):
        if reason := address_problem(default.strip(), domain_wide_allowed=False):
            check.add("oci_relay_default_sender", reason, "write one full address, e.g. "
                      "noreply@example.com", value=default)
            return senders, None
        default = default.strip().lower()
        if senders and not covered_by(default, senders):
            check.add("oci_relay_default_sender", "is not covered by oci_relay_approved_senders, "
                      "so OCI would refuse it (535 Authorization failed)", "add it (or its "
                      "@domain) to oci_relay_approved_senders, or pick one of them",
                      value=default, allowed=", ".join(senders))
            return senders, None
        return senders, default
    if senders:
        addresses = [s for s in senders if not s.startswith("@")]
        if not addresses:
            check.add("oci_relay_default_sender", "is required when every approved sender is a "
                      "whole domain", "set it to an address of one of those domains, e.g. "
                      f"noreply{senders[0]}")
            return senders, None
        return senders, addresses[0]
    return senders, None


def _check_tls(check: _Checker) -> tuple[str | None, str | None]:
    level = check.typed(KEYS_BY_NAME["oci_relay_tls_level"])
    ca_file = check.typed(KEYS_BY_NAME["oci_relay_tls_ca_file"])
    if isinstance(level, str):
        if level in ("may", "none", "dane", "dane-only", "fingerprint"):
            reason = {
                "may": "opportunistic TLS sends the OCI password in clear text to whoever "
                       "strips STARTTLS",
                "none": "no TLS sends the OCI password in clear text, and OCI requires TLS",
            }.get(level, "OCI publishes no DANE records or fingerprints to check against")
            check.add("oci_relay_tls_level", f"{level!r} is refused: {reason}", "use secure "
                      "(the default)", value=level, allowed=", ".join(TLS_LEVELS))
            level = None
        elif level not in TLS_LEVELS:
            check.add("oci_relay_tls_level", "is not a TLS level", "use secure (the default), "
                      "verify or encrypt", value=level, allowed=", ".join(TLS_LEVELS))
            level = None
        elif level == "encrypt":
            check.add("oci_relay_tls_level", "encrypt does not verify the certificate: the "
                      "password goes to whoever answers with any certificate", "use secure "
                      "unless you have a reason and accept the risk", value=level,
                      severity="warning")
    if isinstance(ca_file, str) and (not ca_file.startswith("/") or
                                     any(c.isspace() for c in ca_file)):
        check.add("oci_relay_tls_ca_file", "is not an absolute path without spaces",
                  "give the full path of a PEM CA bundle, e.g. "
                  "/etc/ssl/certs/ca-certificates.crt", value=ca_file)
        ca_file = None
    return level, ca_file


def _positive(check: _Checker, name: str, unit: str) -> int | None:
    value = check.typed(KEYS_BY_NAME[name])
    if value is not None and value <= 0:
        check.add(name, f"must be a positive number of {unit}", f"use the tenancy's limit, "
                  f"e.g. {KEYS_BY_NAME[name].default}", value=value, allowed="1 or more")
        return None
    return value


def _check_networks(check: _Checker) -> tuple[str, ...] | None:
    networks = check.typed(KEYS_BY_NAME["oci_relay_relay_networks"])
    if not isinstance(networks, list):
        return None
    good: list[str] = []
    for entry in networks:
        try:
            net = ipaddress.ip_network(entry.strip(), strict=True)
        except ValueError as exc:
            hint = ""
            with contextlib.suppress(ValueError):
                hint = f" (did you mean {ipaddress.ip_network(entry.strip(), strict=False)}?)"
            check.add("oci_relay_relay_networks", f"entry {entry!r} is not a network: {exc}",
                      f"write a CIDR such as 10.0.0.0/16{hint}", value=entry)
            continue
        if net.prefixlen < _MIN_PREFIX[net.version]:
            check.add("oci_relay_relay_networks", f"entry {entry!r} would make an open relay "
                      f"({net.num_addresses:,} addresses may send as your approved senders)",
                      "list only your VCN's subnets, e.g. 10.0.0.0/16",
                      value=entry, allowed=f"IPv{net.version} prefixes of "
                      f"/{_MIN_PREFIX[net.version]} or longer")
            continue
        good.append(str(net))
    return tuple(good)


def _check_root_alias(check: _Checker) -> str | None:
    alias = check.typed(KEYS_BY_NAME["oci_relay_root_alias"])
    if not isinstance(alias, str):
        return None
    alias = alias.strip()
    if "@" in alias:
        if reason := address_problem(alias, domain_wide_allowed=False):
            check.add("oci_relay_root_alias", reason, "give one address or one local user "
                      "name", value=alias)
            return None
    elif not re.fullmatch(r"[a-z_][a-z0-9_.-]*", alias):
        check.add("oci_relay_root_alias", "is neither an address nor a local user name",
                  "give one address (admin@example.com) or a local user", value=alias)
        return None
    return alias


def _check_dkim_selectors(check: _Checker) -> tuple[str, ...] | None:
    selectors = check.typed(KEYS_BY_NAME["oci_relay_dkim_selectors"])
    if not isinstance(selectors, list):
        return None
    for selector in selectors:
        if not all(_HOST_LABEL.match(label) for label in selector.split(".")):
            check.add("oci_relay_dkim_selectors", f"entry {selector!r} is not a DNS label",
                      "use the selector OCI shows for the DKIM key (e.g. "
                      "mail-iad-20240101), without ._domainkey", value=selector)
            return None
    return tuple(selectors)


def validate(raw: dict[str, Any]) -> Validated:
    """Check every key of the description; a RelayConfig only when there is no error."""
    relevant = {k: v for k, v in raw.items() if k.startswith(PREFIX) or _looks_misspelled(k)}
    check = _Checker(relevant)
    _check_unknown_keys(relevant, check)
    region = _check_region(check)
    port = _check_port(check)
    username, password = _check_credentials(check)
    senders, default_sender = _check_senders(check)
    tls_level, ca_file = _check_tls(check)
    rate = _positive(check, "oci_relay_messages_per_minute", "messages per minute")
    size = _positive(check, "oci_relay_message_size_limit", "bytes")
    networks = _check_networks(check)
    root_alias = _check_root_alias(check)
    dkim = _check_dkim_selectors(check)
    simple = {k.name: check.typed(k) for k in KEYS if k.choices and k.name not in
              ("oci_relay_tls_level", "oci_relay_unapproved_senders")}
    unapproved = check.typed(KEYS_BY_NAME["oci_relay_unapproved_senders"])
    for name, value in [*simple.items(), ("oci_relay_unapproved_senders", unapproved)]:
        choices = KEYS_BY_NAME[name].choices or ()
        if value is not None and value not in choices:
            check.add(name, "is not one of the allowed values", f"use one of: "
                      f"{', '.join(choices)}", value=value, allowed=", ".join(choices))
    preflight = check.typed(KEYS_BY_NAME["oci_relay_preflight"])

    smtp_host = check.typed(KEYS_BY_NAME["oci_relay_smtp_host"])
    if isinstance(smtp_host, str) and not is_host_name(smtp_host.strip()):
        check.add("oci_relay_smtp_host", "is not a valid host name", "give the endpoint's name, "
                  "e.g. smtp.email.us-ashburn-1.oci.oraclecloud.com", value=smtp_host)
        smtp_host = None
    elif smtp_host is None and region is not None:
        smtp_host = region.smtp_host
    if isinstance(rate, int) and rate > 60:
        check.add("oci_relay_messages_per_minute", "is above 60: Postfix paces in whole "
                  "seconds per destination, so this relay sends at most 60 messages a minute",
                  "nothing to do unless you need more than 60/min from one host",
                  value=rate, severity="warning")

    if errors(check.problems):
        return Validated(None, check.problems)
    config = RelayConfig(
        region=region, smtp_host=smtp_host.strip().rstrip("."), port=port,  # type: ignore[union-attr, arg-type]
        username=username, password=password,  # type: ignore[arg-type]
        approved_senders=senders, default_sender=default_sender,  # type: ignore[arg-type]
        unapproved_senders=unapproved, tls_level=tls_level, tls_ca_file=ca_file,
        messages_per_minute=rate, message_size_limit=size,  # type: ignore[arg-type]
        relay_networks=networks, root_alias=root_alias,  # type: ignore[arg-type]
        map_type=simple["oci_relay_map_type"], host_lookup=simple["oci_relay_host_lookup"],
        preflight=preflight, dkim_selectors=dkim,  # type: ignore[arg-type]
        dns_check=simple["oci_relay_dns_check"],
    )
    return Validated(config, check.problems)
