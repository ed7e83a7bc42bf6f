"""Problems found in a relay description: values with a message a person can act on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding. `value` is what was given, already redacted for secrets."""

    key: str
    message: str
    fix: str
    value: str | None = None
    allowed: str | None = None
    severity: Severity = "error"
    location: str | None = None

    def as_text(self) -> str:
        where = f"{self.location}: " if self.location else ""
        parts = [f"{self.severity}: {where}{self.key}: {self.message}"]
        if self.value is not None:
            parts.append(f"  given:   {self.value}")
        if self.allowed is not None:
            parts.append(f"  allowed: {self.allowed}")
        parts.append(f"  fix:     {self.fix}")
        return "\n".join(parts)

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


SECRET_SHOWN_AS = "(hidden: secret)"
