"""OCI Email Delivery's replies (oci-facts.md) and Postfix's own deferral reasons, explained."""

from __future__ import annotations

import pytest

from ocirelay.replies import explain, known_codes

# (reply as OCI writes it, words the explanation must hold, transient?)
OCI_REPLIES = [
    ("421 Too many auth failures, try again later", "throttles", False),
    ("421 Too many connections, try again later", "simultaneous", True),
    ("421 4.4.0 Timeout waiting for data", "transient", True),
    ("451 Server error", "transient", True),
    ("452 System storage error", "storage", True),
    ("455 Maximum messages sent per minute reached : limit is 10", "per-minute", True),
    ("455 Maximum messages sent per day reached : limit is 200", "daily quota", True),
    ("501 Invalid command argument, not a valid Base64 string", "malformed", False),
    ("503 Need RCPT command", "out of order", False),
    ("504 Method not supported", "PLAIN", False),
    ("535 Authentication credentials invalid", "console password", False),
    ("535 Authentication required", "without logging in", False),
    ("535 Authorization failed: address <cron@host.example> not authorized", "approved sender",
     False),
    ("552 Exceeds byte limit", "size limit", False),
    ("553 Invalid email address", "RFC 5322", False),
    ("554 Message parse error", "parse", False),
    ("254 4.7.1 Suppression for user", "suppression list", False),
]


@pytest.mark.parametrize(("reply", "words", "transient"), OCI_REPLIES)
def test_every_documented_reply_is_explained(reply: str, words: str, transient: bool) -> None:
    explained = explain(None, reply)
    assert explained.known
    assert explained.code == int(reply[:3])
    assert words.lower() in (explained.cause + explained.fix).lower()
    assert explained.transient is transient


def test_the_535_for_a_console_password_says_so() -> None:
    text = explain(535, "5.7.8 Authentication credentials invalid").as_text()
    assert text.startswith("535 5.7.8 Authentication credentials invalid: ")
    assert "console password" in text and "SMTP credential" in text


def test_postfix_quoted_reply_is_found() -> None:
    reason = ("SASL authentication failed; server smtp.email.us-ashburn-1.oci.oraclecloud.com"
              "[192.0.2.1] said: 535 5.7.8 Authentication credentials invalid (in reply to AUTH "
              "command)")
    explained = explain(None, reason)
    assert explained.code == 535 and "console password" in explained.cause


@pytest.mark.parametrize(("reason", "words"), [
    ("connect to smtp.email.x[192.0.2.1]:25: Connection timed out", "port 25 is blocked"),
    ("connect to smtp.email.x[192.0.2.1]:587: Connection timed out", "drops the traffic"),
    ("Server certificate not verified", "not verified"),
    ("SASL authentication failed; cannot authenticate to server x: no mechanism available",
     "libsasl2-modules"),
    ("Cannot start TLS: handshake failure", "TLS 1.2"),
    ("Host or domain name not found. Name service error for name=x type=A", "resolve"),
])
def test_postfix_local_reasons(reason: str, words: str) -> None:
    explained = explain(None, reason)
    assert explained.known and words in explained.cause + explained.fix


def test_unknown_replies_fall_back_to_their_class() -> None:
    assert explain(550, "something new").transient is False
    assert explain(450, "something new").transient is True
    assert not explain(None, "gibberish").known


def test_known_codes_cover_the_table() -> None:
    assert {421, 455, 535, 552}.issubset(known_codes())
