"""Filters that let hestia_relay call the ocirelay engine's Exim side (ocirelay/render_exim.py).

Validation and the Postfix side come from the oci_relay_common dependency's filters; these add
what only a HestiaCP (Exim) host needs: the marked template blocks, Hestia's smtp_relay.conf and
hestia.conf values, and the next steps. The CLI uses the same functions, so the two agree.

No error raised here ever carries the SMTP password: unexpected exceptions are reported by type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_INSTALL_HINT = ("the ocirelay package is not importable by the Python that runs Ansible: "
                 "install it there (from the repository: pip install -e .)")


def _engine() -> Any:
    try:
        import ocirelay.config
        import ocirelay.render_exim
    except ImportError as error:  # pragma: no cover - depends on the controller
        raise AnsibleFilterError(f"{_INSTALL_HINT} ({error.name} missing)") from None
    return ocirelay


def _plain(value: Any) -> Any:
    """Ansible's tagged/lazy containers and strings as plain Python values."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """Re-raise anything unexpected without its message, which might quote a value."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except AnsibleFilterError:
            raise
        except Exception as error:
            raise AnsibleFilterError(
                f"ocirelay filter {function.__name__} failed with {type(error).__name__} "
                "(message withheld: it could contain a secret)") from None

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def _config(values: Any) -> Any:
    if not isinstance(values, Mapping):
        raise AnsibleFilterError("expected the relay description as a mapping of oci_relay_* "
                                 f"variables, got {type(values).__name__}")
    validated = _engine().config.validate(_plain(values))
    if validated.config is None:
        raise AnsibleFilterError("the relay description is invalid (oci_relay_common reports "
                                 "why); nothing was changed")
    return validated.config


def _target(os_family: Any) -> Any:
    return _engine().render_exim.EximTarget(str(os_family))


@_guarded
def ocirelay_exim_problems(values: Any) -> list[dict[str, Any]]:
    """What a HestiaCP (Exim) host cannot do or ignores: as_dict() plus `text`."""
    problems = _engine().render_exim.exim_problems(_config(values))
    return [{**p.as_dict(), "text": p.as_text()} for p in problems]


@_guarded
def ocirelay_exim_blocks(values: Any, os_family: Any = "Debian") -> dict[str, str]:
    """The four marked blocks for Hestia's exim4.conf.template (no secret in them)."""
    rx = _engine().render_exim
    try:
        return dict(rx.render_blocks(_config(values), _target(os_family)))
    except _engine().render.RenderError as error:
        raise AnsibleFilterError(str(error)) from None


@_guarded
def ocirelay_exim_apply(template: Any, blocks: Any) -> str:
    """The template with exactly these blocks (earlier copies replaced)."""
    rx = _engine().render_exim
    try:
        return str(rx.apply_blocks(str(template), _plain(blocks)))
    except rx.TemplateError as error:
        raise AnsibleFilterError(str(error)) from None


@_guarded
def ocirelay_exim_remove(template: Any) -> str:
    """The template without ocirelay's blocks."""
    rx = _engine().render_exim
    try:
        return str(rx.remove_blocks(str(template)))
    except rx.TemplateError as error:
        raise AnsibleFilterError(str(error)) from None


@_guarded
def ocirelay_exim_template_problems(template: Any) -> list[str]:
    """Why the blocks would not fit this template (empty when they do)."""
    rx = _engine().render_exim
    try:
        return list(rx.hestia_template_problems(str(template)))
    except rx.TemplateError as error:
        return [str(error)]


@_guarded
def ocirelay_exim_managed_parts(template: Any) -> list[str]:
    """The parts of ocirelay's blocks present in the template."""
    rx = _engine().render_exim
    try:
        return sorted(rx.managed_blocks(str(template)))
    except rx.TemplateError as error:
        raise AnsibleFilterError(str(error)) from None


@_guarded
def ocirelay_hestia_smtp_relay_conf(values: Any) -> str:
    """Hestia's smtp_relay.conf content. SECRET: use only in no_log tasks."""
    return str(_engine().render_exim.render_smtp_relay_conf(_config(values)).content)


@_guarded
def ocirelay_hestia_conf_values(values: Any) -> dict[str, str]:
    """The SMTP_RELAY* keys v-add-sys-smtp-relay sets in hestia.conf (no password)."""
    return dict(_engine().render_exim.hestia_conf_values(_config(values)))


@_guarded
def ocirelay_hestia_next_steps(values: Any, mail_domains: Any = None) -> list[str]:
    """What the user still has to do outside the host."""
    domains = [str(d) for d in _plain(mail_domains or [])]
    return list(_engine().render_exim.next_steps(_config(values), domains))


@_guarded
def ocirelay_hestia_conf_parse(text: Any) -> dict[str, str]:
    """hestia.conf (KEY='value' lines) as a mapping, the way Hestia's source_conf reads it."""
    values: dict[str, str] = {}
    for line in str(text).splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@_guarded
def ocirelay_hestia_relay_public(text: Any) -> dict[str, str]:
    """host, port and user of an smtp_relay.conf (the pass line is never returned)."""
    values: dict[str, str] = {}
    for line in str(text).splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("host", "port", "user"):
            values[key] = value.strip()
    return values


@_guarded
def ocirelay_hestia_relay_matches(values: Any, settings: Any, public: Any) -> bool:
    """Whether Hestia's relay is already this one: hestia.conf's SMTP_RELAY* keys and the host,
    port and user lines of smtp_relay.conf (the password is compared by the file's checksum)."""
    config = _config(values)
    wanted = _engine().render_exim.hestia_conf_values(config)
    settings = _plain(settings or {})
    public = _plain(public or {})
    return all(settings.get(key) == value for key, value in wanted.items()) and public == {
        "host": config.smtp_host, "port": str(config.port), "user": config.username}


class FilterModule:
    """ocirelay engine filters for HestiaCP hosts."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "ocirelay_exim_problems": ocirelay_exim_problems,
            "ocirelay_exim_blocks": ocirelay_exim_blocks,
            "ocirelay_exim_apply": ocirelay_exim_apply,
            "ocirelay_exim_remove": ocirelay_exim_remove,
            "ocirelay_exim_template_problems": ocirelay_exim_template_problems,
            "ocirelay_exim_managed_parts": ocirelay_exim_managed_parts,
            "ocirelay_hestia_smtp_relay_conf": ocirelay_hestia_smtp_relay_conf,
            "ocirelay_hestia_conf_values": ocirelay_hestia_conf_values,
            "ocirelay_hestia_next_steps": ocirelay_hestia_next_steps,
            "ocirelay_hestia_conf_parse": ocirelay_hestia_conf_parse,
            "ocirelay_hestia_relay_public": ocirelay_hestia_relay_public,
            "ocirelay_hestia_relay_matches": ocirelay_hestia_relay_matches,
        }
