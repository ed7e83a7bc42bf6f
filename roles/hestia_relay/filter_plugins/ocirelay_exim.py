"""Filters that let hestia_relay call the ocirelay engine's Exim side (ocirelay/render_exim.py).

Validation and the Postfix side come from the oci_relay_common dependency's filters; these add
what only a HestiaCP (Exim) host needs: the marked template blocks, Hestia's smtp_relay.conf and
hestia.conf values, and the next steps. The CLI uses the same functions, so the two agree.

No error raised here ever carries the SMTP password: unexpected exceptions are reported by type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Needs the ocirelay package where ansible-playbook runs (pip install -e . in this repository);
# without it Ansible skips this plugin and says: No module named 'ocirelay'.
from ocirelay.ansible_support import AnsibleFilterError, guarded, plain, relay_values


def _engine() -> Any:
    import ocirelay.config
    import ocirelay.render_exim

    return ocirelay


def _config(values: Any) -> Any:
    validated = _engine().config.validate(relay_values(values))
    if validated.config is None:
        raise AnsibleFilterError("the relay description is invalid (oci_relay_common reports "
                                 "why); nothing was changed")
    return validated.config


def _target(os_family: Any) -> Any:
    return _engine().render_exim.EximTarget(str(os_family))


@guarded
def ocirelay_exim_problems(values: Any) -> list[dict[str, Any]]:
    """What a HestiaCP (Exim) host cannot do or ignores: as_dict() plus `text`."""
    problems = _engine().render_exim.exim_problems(_config(values))
    return [{**p.as_dict(), "text": p.as_text()} for p in problems]


@guarded
def ocirelay_exim_blocks(values: Any, os_family: Any = "Debian") -> dict[str, str]:
    """The four marked blocks for Hestia's exim4.conf.template (no secret in them)."""
    rx = _engine().render_exim
    try:
        return dict(rx.render_blocks(_config(values), _target(os_family)))
    except _engine().render.RenderError as error:
        raise AnsibleFilterError(str(error)) from None


@guarded
def ocirelay_exim_apply(template: Any, blocks: Any) -> str:
    """The template with exactly these blocks (earlier copies replaced)."""
    rx = _engine().render_exim
    try:
        return str(rx.apply_blocks(str(template), plain(blocks)))
    except rx.TemplateError as error:
        raise AnsibleFilterError(str(error)) from None


@guarded
def ocirelay_exim_remove(template: Any) -> str:
    """The template without ocirelay's blocks."""
    rx = _engine().render_exim
    try:
        return str(rx.remove_blocks(str(template)))
    except rx.TemplateError as error:
        raise AnsibleFilterError(str(error)) from None


@guarded
def ocirelay_exim_template_problems(template: Any) -> list[str]:
    """Why the blocks would not fit this template (empty when they do)."""
    rx = _engine().render_exim
    try:
        return list(rx.hestia_template_problems(str(template)))
    except rx.TemplateError as error:
        return [str(error)]


@guarded
def ocirelay_exim_managed_parts(template: Any) -> list[str]:
    """The parts of ocirelay's blocks present in the template."""
    rx = _engine().render_exim
    try:
        return sorted(rx.managed_blocks(str(template)))
    except rx.TemplateError as error:
        raise AnsibleFilterError(str(error)) from None


@guarded
def ocirelay_hestia_smtp_relay_conf(values: Any) -> str:
    """Hestia's smtp_relay.conf content. SECRET: use only in no_log tasks."""
    return str(_engine().render_exim.render_smtp_relay_conf(_config(values)).content)


@guarded
def ocirelay_hestia_conf_values(values: Any) -> dict[str, str]:
    """The SMTP_RELAY* keys v-add-sys-smtp-relay sets in hestia.conf (no password)."""
    return dict(_engine().render_exim.hestia_conf_values(_config(values)))


@guarded
def ocirelay_hestia_next_steps(values: Any, mail_domains: Any = None) -> list[str]:
    """What the user still has to do outside the host."""
    domains = [str(d) for d in plain(mail_domains or [])]
    return list(_engine().render_exim.next_steps(_config(values), domains))


@guarded
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


@guarded
def ocirelay_hestia_relay_public(text: Any) -> dict[str, str]:
    """host, port and user of an smtp_relay.conf (the pass line is never returned)."""
    values: dict[str, str] = {}
    for line in str(text).splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("host", "port", "user"):
            values[key] = value.strip()
    return values


@guarded
def ocirelay_hestia_relay_matches(values: Any, settings: Any, public: Any) -> bool:
    """Whether Hestia's relay is already this one: hestia.conf's SMTP_RELAY* keys and the host,
    port and user lines of smtp_relay.conf (the password is compared by the file's checksum)."""
    config = _config(values)
    wanted = _engine().render_exim.hestia_conf_values(config)
    settings = plain(settings or {})
    public = plain(public or {})
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
