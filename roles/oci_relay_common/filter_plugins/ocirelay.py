"""Filters that let the roles call the ocirelay engine on the controller.

The roles never re-implement a rule or a template: they hand the oci_relay_* variables to the
same code the `ocirelay` CLI runs (validation, rendering, the SMTP probe and its explanations),
so the CLI and the roles cannot drift. Needs the `ocirelay` package installed in the Python that
runs ansible-playbook (`pip install -e .` in this repository).

No error raised here ever carries the SMTP password: problems are redacted by the engine, and
unexpected exceptions are reported by type only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Needs the ocirelay package where ansible-playbook runs (pip install -e . in this repository);
# without it Ansible skips this plugin and says: No module named 'ocirelay'.
from ocirelay.ansible_support import AnsibleFilterError, guarded, plain, relay_values


def _engine() -> Any:
    import ocirelay.config
    import ocirelay.preflight
    import ocirelay.render

    return ocirelay


def _validated(values: Any) -> Any:
    engine = _engine()
    validated = engine.config.validate(relay_values(values))
    if validated.config is None:
        raise AnsibleFilterError(problems_text(validated.problems))
    return validated


def problems_text(problems: list[Any]) -> str:
    from ocirelay.problems import errors

    count = len(errors(problems))
    return "\n".join([f"The relay description has {count} error(s); nothing was changed:",
                      *(p.as_text() for p in problems)])


@guarded
def ocirelay_problems(values: Any) -> list[dict[str, Any]]:
    """Every problem of the description: the engine's as_dict() plus `text` (as_text())."""
    validated = _engine().config.validate(relay_values(values))
    return [{**p.as_dict(), "text": p.as_text()} for p in validated.problems]


@guarded
def ocirelay_config(values: Any) -> dict[str, Any]:
    """The validated description with every default resolved; secrets left out."""
    config = _validated(values).config
    return {
        "region": config.region.name,
        "region_key": config.region.key,
        "smtp_host": config.smtp_host,
        "port": config.port,
        "relayhost": config.relayhost,
        "username": config.username,
        "approved_senders": list(config.approved_senders),
        "approved_addresses": list(config.approved_addresses),
        "default_sender": config.default_sender,
        "unapproved_senders": config.unapproved_senders,
        "tls_level": config.tls_level,
        "tls_ca_file": config.tls_ca_file,
        "messages_per_minute": config.messages_per_minute,
        "message_size_limit": config.message_size_limit,
        "relay_networks": list(config.relay_networks),
        "hub_mode": config.hub_mode,
        "root_alias": config.root_alias,
        "map_type": config.map_type,
        "host_lookup": config.host_lookup,
        "preflight": config.preflight,
        "dns_check": config.dns_check,
        "sender_domains": list(config.sender_domains),
    }


@guarded
def ocirelay_render_postfix(values: Any, postfix_version: Any,
                            os_family: Any = "Debian") -> dict[str, dict[str, Any]]:
    """Every Postfix file of the relay: {relative path: {content, mode, secret, postmap_type}}."""
    engine = _engine()
    config = _validated(values).config
    try:
        target = engine.render.PostfixTarget.parse(str(postfix_version), str(os_family))
    except ValueError:
        raise AnsibleFilterError(f"cannot read the Postfix version {str(postfix_version)!r} "
                                 "(expected X.Y or X.Y.Z)") from None
    try:
        files = engine.render.render_postfix(config, target)
    except engine.render.RenderError as error:
        raise AnsibleFilterError(str(error)) from None
    return {path: {"content": f.content, "mode": f.mode, "secret": f.secret,
                   "postmap_type": f.postmap_type} for path, f in files.items()}


@guarded
def ocirelay_host_script(name: Any) -> str:
    """The source of a host script (ocirelay/host_scripts.py: smtp_probe, send_test), to run on
    the host with `python3 -c` (standard library only; nothing is written on the host)."""
    from ocirelay import host_scripts

    try:
        return host_scripts.source(str(name))
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None


@guarded
def ocirelay_preflight_verdict(report: Any, message_size_limit: Any = None) -> dict[str, Any]:
    """The probe's JSON report explained: {ok, summary, message, warnings}."""
    limit = int(message_size_limit) if message_size_limit not in (None, "") else None
    report = plain(report)
    return dict(_engine().preflight.verdict(report, limit).as_dict())


@guarded
def ocirelay_explain_reply(text: Any, code: Any = None) -> dict[str, Any]:
    """An SMTP reply of the endpoint explained: {code, reply, cause, fix, transient, known}."""
    from ocirelay import replies

    explained = replies.explain(int(code) if code not in (None, "") else None, str(text))
    return dict(explained.as_dict())


@guarded
def ocirelay_pending_files(files: Any, file_state: Any, directory: str,
                           owner: str = "root", group: str = "root") -> list[str]:
    """Paths of `files` (from ocirelay_render_*) whose copy in `directory` is missing or differs
    in content, mode, owner or group. `file_state` is the JSON printed by the file_state host
    script (or its parsed form) for those paths."""
    import hashlib
    import json

    rendered = plain(files)
    state = json.loads(file_state) if isinstance(file_state, str) else plain(file_state)
    pending = []
    for path, wanted in rendered.items():
        found = state.get(f"{directory.rstrip('/')}/{path}") or {}
        digest = hashlib.sha1(wanted["content"].encode("utf-8")).hexdigest()
        if not found.get("exists") or found.get("checksum") != digest \
                or found.get("mode") != wanted["mode"] or found.get("owner") != owner \
                or found.get("group") != group:
            pending.append(path)
    return pending


class FilterModule:
    """ocirelay engine filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "ocirelay_problems": ocirelay_problems,
            "ocirelay_config": ocirelay_config,
            "ocirelay_render_postfix": ocirelay_render_postfix,
            "ocirelay_host_script": ocirelay_host_script,
            "ocirelay_preflight_verdict": ocirelay_preflight_verdict,
            "ocirelay_explain_reply": ocirelay_explain_reply,
            "ocirelay_pending_files": ocirelay_pending_files,
        }
