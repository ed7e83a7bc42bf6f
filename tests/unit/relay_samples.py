"""A valid relay description and the awkward password the tests share."""

from __future__ import annotations

from typing import Any

# Every awkward character OCI passwords may hold (oci-facts.md), in one lab-only fake.
AWKWARD_PASSWORD = "p: a;s#s^w(o)r'd\" x"

VALID: dict[str, Any] = {
    "oci_relay_region": "us-ashburn-1",
    "oci_relay_username": "ocid1.user.oc1..aaaaexample@ocid1.tenancy.oc1..bbbbexample.ab.com",
    "oci_relay_password": AWKWARD_PASSWORD,
    "oci_relay_approved_senders": ["noreply@example.com", "@example.org"],
}
