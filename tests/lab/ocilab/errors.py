"""The one error the lab raises on purpose: a message a person can act on."""

from __future__ import annotations


class LabError(Exception):
    """Something stops the lab; the message says what happened and what to do about it."""
