"""OCI regions: identifier -> realm, Email Delivery endpoint and SPF geography.

The region list itself is data generated from the oci SDK (region_table.py); this module only
derives what the SDK does not hold: the SMTP endpoint name and the SPF geography.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ocirelay.region_table import REGIONS

# Oracle publishes SPF includes per geography of the sending region, for the commercial realm.
# Region identifiers start with a geographic prefix; Middle East, Israel and Africa are grouped
# with Europe (EMEA), which Oracle's pages do not state outright: marked as an assumption in the
# DNS report. Realms other than oc1 and oc4 have no published include we know of.
_GEOGRAPHY_BY_PREFIX = {
    "us": "americas", "ca": "americas", "sa": "americas", "mx": "americas",
    "ap": "apac",
    "eu": "europe", "uk": "europe", "me": "europe", "il": "europe", "af": "europe",
}
_ASSUMED_PREFIXES = frozenset({"me", "il", "af"})


@dataclass(frozen=True)
class Region:
    name: str
    realm: str
    realm_domain: str
    key: str

    @property
    def smtp_host(self) -> str:
        return f"smtp.email.{self.name}.oci.{self.realm_domain}"

    @property
    def geography(self) -> str | None:
        """americas / apac / europe for commercial regions, "uk-gov" for oc4, else None."""
        if self.realm == "oc4":
            return "uk-gov"
        if self.realm != "oc1":
            return None
        return _GEOGRAPHY_BY_PREFIX.get(self.name.split("-", 1)[0])

    @property
    def geography_is_assumed(self) -> bool:
        return self.realm == "oc1" and self.name.split("-", 1)[0] in _ASSUMED_PREFIXES


def lookup(name: str) -> Region | None:
    row = REGIONS.get(name)
    if row is None:
        return None
    realm, domain, key = row
    return Region(name=name, realm=realm, realm_domain=domain, key=key)


def all_regions() -> list[Region]:
    return [region for name in REGIONS if (region := lookup(name)) is not None]


def closest_names(name: str, limit: int = 3) -> list[str]:
    """Region identifiers a mistyped name probably meant; a short key (iad) finds its region."""
    lowered = name.strip().lower()
    by_key = [region for region, (_, _, key) in REGIONS.items() if key and key == lowered]
    return by_key or difflib.get_close_matches(lowered, list(REGIONS), n=limit, cutoff=0.6)
