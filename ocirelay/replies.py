"""What OCI Email Delivery's SMTP replies mean, and what to do about each.

From OCI's troubleshooting page (oci-facts.md, "Replies the endpoint sends"). Shared by the roles'
preflight, the CLI and the log explainer: a reply is matched on its code and the words of its
text, never on the exact wording, which OCI changes now and then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    """One reply explained: the cause in a few words, the fix, and whether to simply retry."""

    code: int | None
    reply: str
    cause: str
    fix: str
    transient: bool = False
    known: bool = True

    def as_text(self) -> str:
        head = f"{self.code} {self.reply}".strip() if self.code is not None else self.reply
        return f"{head}: {self.cause}\n  fix: {self.fix}"

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "reply": self.reply, "cause": self.cause, "fix": self.fix,
                "transient": self.transient, "known": self.known}


@dataclass(frozen=True)
class _Rule:
    code: int
    pattern: str  # searched case-insensitively in the reply text; "" matches any text
    cause: str
    fix: str
    transient: bool = False


_RULES: tuple[_Rule, ...] = (
    _Rule(421, r"auth(entication)? failures",
          "OCI throttles this host's IP address after repeated failed logins or mail from "
          "senders that are not approved",
          "stop sending for a while (Postfix: `postfix stop` or hold the queue with "
          "`postsuper -h ALL`), fix the credentials or the sender first, then let the queue "
          "retry"),
    _Rule(421, r"too many connections",
          "too many simultaneous connections from this host", "nothing to do: the relay "
          "retries; keep the oci transport at concurrency 1", transient=True),
    _Rule(421, r"",
          "the endpoint closed the session for a transient reason (timeout, maintenance)",
          "nothing to do: the message stays queued and is retried", transient=True),
    _Rule(451, r"", "a transient error on OCI's side", "nothing to do: the relay retries",
          transient=True),
    _Rule(452, r"", "a transient storage error on OCI's side",
          "nothing to do: the relay retries", transient=True),
    _Rule(455, r"per day",
          "the tenancy's daily quota (max-emails-day) is used up",
          "wait for the next day, or ask Oracle to raise the tenancy's Email Delivery limits",
          transient=True),
    _Rule(455, r"per minute",
          "faster than the tenancy's messages-per-minute limit",
          "set oci_relay_messages_per_minute to the limit the reply names (the relay paces "
          "itself below it), or ask Oracle to raise it", transient=True),
    _Rule(455, r"", "an Email Delivery sending limit was reached",
          "check the tenancy's limits (messages per minute and per day)", transient=True),
    _Rule(501, r"base64|nul",
          "the AUTH PLAIN exchange was malformed",
          "check that the password has no stray characters (copy it again from OCI) and that "
          "the client sends AUTH PLAIN"),
    _Rule(503, r"", "the client sent SMTP commands out of order",
          "a client bug: check the client's log"),
    _Rule(504, r"",
          "the client tried an authentication mechanism other than PLAIN, the only one OCI "
          "accepts",
          "make the client use AUTH PLAIN (Postfix: smtp_sasl_mechanism_filter = plain with "
          "libsasl2-modules / cyrus-sasl-plain installed; Exim: a plaintext authenticator with "
          "public_name = PLAIN)"),
    _Rule(535, r"credentials invalid",
          "Authentication credentials invalid: you used the console password instead of an "
          "SMTP credential?",
          "generate an SMTP credential (OCI console: Identity > Users > your user > SMTP "
          "credentials) and set oci_relay_username to its long user name "
          "(ocid1.user...@ocid1.tenancy....com) and oci_relay_password to the password shown "
          "once at creation; also check oci_relay_region is the credential's home for sending"),
    _Rule(535, r"authentication required",
          "the client sent mail without logging in first",
          "enable SMTP AUTH toward OCI (Postfix: the oci transport's smtp_sasl_auth_enable; "
          "check that the SASL PLAIN module is installed)"),
    _Rule(535, r"not authori[sz]ed|authorization failed",
          "the sender is not an approved sender in this region and compartment, or the "
          "credential's user lacks the policy to send",
          "add the address (or its domain) as an approved sender in the region of "
          "oci_relay_region, and grant the user's group `use email-family` in that "
          "compartment"),
    _Rule(535, r"", "OCI refused the login", "check oci_relay_username and oci_relay_password "
          "(an SMTP credential, not the console password)"),
    _Rule(552, r"", "the message is larger than the tenancy's size limit",
          "lower oci_relay_message_size_limit to the tenancy's limit (the EHLO SIZE value) so "
          "big messages are refused at submission, or ask Oracle to raise it"),
    _Rule(553, r"", "an address is not a valid RFC 5322 address",
          "fix the sender or recipient address the application writes"),
    _Rule(554, r"parse", "OCI could not parse the message: no headers, or headers over 256 KB",
          "make the application write proper headers"),
    _Rule(554, r"", "OCI refused the message", "check the reply text and OCI's Email "
          "Delivery troubleshooting page"),
    _Rule(254, r"suppress",
          "accepted, but the recipient is on the suppression list (earlier bounces or "
          "complaints): OCI will not deliver to it",
          "remove the address from the compartment's suppression list if it is valid again"),
)

# Postfix's own words when no reply came (connection, TLS and SASL failures on the client side).
_LOCAL_RULES: tuple[tuple[str, str, str, bool], ...] = (
    (r":25: connection timed out",
     "port 25 is blocked for every OCI instance (and by many other clouds)",
     "use port 587 (oci_relay_port: 587)", False),
    (r"connection timed out",
     "no answer from the endpoint: something drops the traffic",
     "allow egress to the endpoint's port (security list / NSG, host firewall, a route out)",
     True),
    (r"connection refused", "the endpoint refused the connection on this port",
     "check oci_relay_port (587 or 465) and oci_relay_smtp_host", True),
    (r"host or domain name not found|name service error",
     "the endpoint's name does not resolve",
     "check oci_relay_region / oci_relay_smtp_host and the host's DNS (smtp_host_lookup = dns "
     "ignores /etc/hosts)", True),
    (r"certificate not verified|certificate verif(y|ication) failed",
     "the endpoint's certificate was not verified",
     "something answers with a certificate OCI did not issue (TLS interception?), or the CA "
     "bundle (oci_relay_tls_ca_file) is wrong or outdated", False),
    (r"tls is required, but was not offered|starttls.*not offered|did not offer tls",
     "the endpoint did not offer STARTTLS: something in between strips it",
     "find the proxy or firewall that rewrites SMTP; the relay will not send the password in "
     "clear text", False),
    (r"cannot start tls|handshake failure",
     "the TLS handshake failed: no common TLS 1.2+ version or cipher",
     "OCI requires TLS 1.2 or newer: check for interception and the host's OpenSSL", False),
    (r"no mechanism available",
     "the SASL PLAIN module is not installed",
     "install libsasl2-modules (Debian/Ubuntu) or cyrus-sasl-plain (Oracle Linux)", False),
)

_FALLBACK: dict[int, tuple[str, str, bool]] = {
    2: ("accepted", "nothing to do", False),
    4: ("a transient refusal", "nothing to do: the relay retries", True),
    5: ("a permanent refusal", "read the reply text; OCI's Email Delivery troubleshooting page "
        "lists the known ones", False),
}

_REPLY_LINE = re.compile(r"^\s*(\d{3})[ -](.*)$", re.DOTALL)
# Postfix quotes the server inside its own words: "... server [host] said: 535 5.7.8 ...".
_QUOTED_REPLY = re.compile(r"\bsaid:\s*(\d{3})[ -](.*?)(?:\s*\(in reply to [^)]*\))?\s*$",
                           re.DOTALL)


def explain(code: int | None, text: str) -> Explanation:
    """The meaning of one reply. Unknown replies get the meaning of their class."""
    text = " ".join(text.split())
    if code is None:
        match = _REPLY_LINE.match(text) or _QUOTED_REPLY.search(text)
        if match:
            code, text = int(match.group(1)), match.group(2).strip()
    if code is not None:
        for rule in _RULES:
            if rule.code == code and re.search(rule.pattern, text, re.IGNORECASE):
                return Explanation(code, text, rule.cause, rule.fix, rule.transient)
        cause, fix, transient = _FALLBACK.get(code // 100, ("an unexpected reply", "read the "
                                              "reply text", False))
        return Explanation(code, text, cause, fix, transient, known=False)
    for pattern, cause, fix, transient in _LOCAL_RULES:
        if re.search(pattern, text, re.IGNORECASE):
            return Explanation(None, text, cause, fix, transient)
    return Explanation(None, text, "no SMTP reply code to go by", "read the text", known=False)


def known_codes() -> tuple[int, ...]:
    return tuple(dict.fromkeys(rule.code for rule in _RULES))
