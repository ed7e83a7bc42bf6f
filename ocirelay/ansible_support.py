"""What the roles' filter plugins share: Ansible's values made plain, errors made safe to show.

The plugins (roles/*/filter_plugins/) are thin: they hand Ansible variables to the engine and its
answers back. Ansible passes tagged strings and lazy containers; the engine wants plain Python.
Anything unexpected is re-raised without its message, which could quote a value and so a secret.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ansible.errors import AnsibleFilterError

__all__ = ["AnsibleFilterError", "guarded", "plain", "relay_values"]

F = TypeVar("F", bound=Callable[..., Any])


def plain(value: Any) -> Any:
    """Ansible's tagged/lazy containers and strings as plain Python values."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def relay_values(values: Any) -> dict[str, Any]:
    """A relay description handed to a filter, as a plain mapping."""
    if not isinstance(values, Mapping):
        raise AnsibleFilterError("expected the relay description as a mapping of oci_relay_* "
                                 f"variables, got {type(values).__name__}")
    return plain(values)  # type: ignore[no-any-return]


def guarded(function: F) -> F:
    """Re-raise anything unexpected without its message, which might quote a value."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except AnsibleFilterError:
            raise
        except Exception as error:
            raise AnsibleFilterError(
                f"ocirelay filter {function.__name__} failed with {type(error).__name__} "
                "(message withheld: it could contain a secret)") from None

    return wrapper  # type: ignore[return-value]
