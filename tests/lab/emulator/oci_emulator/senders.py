"""Approved senders, the envelope/header From rule and the suppression list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import replies

NULL_SENDER_SHOWN_AS = "<>"


def refused(address: str) -> str:
    """Oracle's 535 naming the address at fault."""
    return replies.NOT_AUTHORIZED.format(address=address or NULL_SENDER_SHOWN_AS)


class Senders:
    """Entries are addresses (``noreply@example.com``) or whole domains (``@example.org``).

    Oracle's approved senders are addresses; the ``@domain`` form stands for every address the
    user approved in that domain, which is what ocirelay's relay description allows.
    """

    def __init__(self, approved: Iterable[str], require_header_match: bool = True) -> None:
        self._approved = frozenset(entry.lower() for entry in approved)
        self._require_match = require_header_match

    def is_approved(self, address: str) -> bool:
        address = address.lower()
        _local, at, domain = address.rpartition("@")
        if not at or not domain:
            return False
        return address in self._approved or f"@{domain}" in self._approved

    def envelope_refusal(self, address: str) -> str | None:
        """None if MAIL FROM may go on, else the 535 reply (null sender included)."""
        return None if self.is_approved(address) else refused(address)

    def header_refusal(self, envelope_sender: str, header_from: Sequence[str]) -> str | None:
        """None if the header From passes, else the 535 naming the first address at fault.

        By default every header From address must equal the envelope sender (compared without
        regard to case); with ``require_header_from_match: false`` each need only be approved,
        the looser reading of Oracle's page ("both addresses need to be authorized").
        """
        if not header_from:
            return refused("")
        for address in header_from:
            if not self.is_approved(address):
                return refused(address)
            if self._require_match and address.lower() != envelope_sender.lower():
                return refused(address)
        return None


class Suppression:
    def __init__(self, recipients: Iterable[str]) -> None:
        self._recipients = frozenset(address.lower() for address in recipients)

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.lower() in self._recipients
