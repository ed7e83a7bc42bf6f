"""The emulator's YAML configuration, read into frozen dataclasses.

Every key is checked: an unknown key, a missing required key or a value of the wrong type is
refused with a SettingsError naming the key (``limits.per_minute: expected ...``). Relative
paths are taken relative to the configuration file. ``emulator.example.yml`` documents the keys.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .faults import FaultError, Faults

UNIX_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes, one for the NUL
CONTROL_SOCKET = "control.sock"
DEFAULT_TLS12_CIPHERS = (
    # Oracle's approved TLS 1.2 suites: ECDHE/DHE key exchange with AES-GCM or AES-CBC-SHA256.
    "ECDHE+AESGCM:DHE+AESGCM:ECDHE+AES+SHA256:DHE+AES+SHA256:!DSS:!aNULL"
)
LOG_LEVELS = ("debug", "info", "warning")
_REQUIRED = object()
TOP_KEYS = (
    "hostname", "banner", "listen", "tls", "credentials", "approved_senders",
    "require_header_from_match", "suppressed_recipients", "suppressed_reply", "limits",
    "auth_throttle", "faults", "state_dir", "session_timeout", "log_level",
)
LISTEN_KEYS = ("address", "starttls_ports", "tls_ports")
TLS_KEYS = ("cert", "key", "wrong_cert", "wrong_key", "tls12_ciphers")
LIMITS_KEYS = ("max_message_bytes", "per_minute", "per_day")
THROTTLE_KEYS = ("max_failures", "window_seconds")


class SettingsError(ValueError):
    """An invalid configuration; ``key`` is the dotted path of the key at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class Listen:
    address: str
    starttls_ports: tuple[int, ...]
    tls_ports: tuple[int, ...]


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path
    wrong_cert: Path | None
    wrong_key: Path | None
    tls12_ciphers: str


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int
    per_minute: int
    per_day: int


@dataclass(frozen=True)
class AuthThrottle:
    max_failures: int
    window_seconds: float


@dataclass(frozen=True)
class Settings:
    hostname: str
    banner: str
    listen: Listen
    tls: TLSFiles
    credentials: tuple[Credential, ...]
    approved_senders: tuple[str, ...]
    require_header_from_match: bool
    suppressed_recipients: tuple[str, ...]
    suppressed_reply: str
    limits: Limits
    auth_throttle: AuthThrottle
    faults: Faults
    state_dir: Path
    session_timeout: float
    log_level: str

    @property
    def control_socket(self) -> Path:
        return self.state_dir / CONTROL_SOCKET


class _Section:
    """One mapping of the YAML file with its known keys; hands out typed values.

    Unknown keys are refused first, so a misspelt key is reported as such rather than as the
    required key it failed to provide.
    """

    def __init__(self, data: Any, path: str, base_dir: Path, keys: tuple[str, ...]) -> None:
        if not isinstance(data, Mapping):
            raise SettingsError(path or "(top level)", f"expected a mapping, got {_kind(data)}")
        self._data = data
        self._path = path
        self._base = base_dir
        self._keys = keys
        for key in data:
            if key not in keys:
                close = difflib.get_close_matches(str(key), keys, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(keys)}"
                raise SettingsError(self.key(str(key)), f"unknown key ({hint})")

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def raw(self, name: str, default: Any = _REQUIRED) -> Any:
        assert name in self._keys, name
        if name in self._data and self._data[name] is not None:
            return self._data[name]
        if default is _REQUIRED:
            raise SettingsError(self.key(name), "required key is missing")
        return default

    def text(self, name: str, default: Any = _REQUIRED) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(self.key(name), f"expected a non-empty string, got {_kind(value)}")
        return value

    def boolean(self, name: str, default: Any = _REQUIRED) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise SettingsError(self.key(name), f"expected true or false, got {_kind(value)}")
        return value

    def integer(self, name: str, default: Any = _REQUIRED, low: int = 0, high: int = 2**40) -> int:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(self.key(name), f"expected an integer, got {_kind(value)}")
        if not low <= value <= high:
            raise SettingsError(self.key(name), f"expected {low} to {high}, got {value}")
        return value

    def number(self, name: str, default: Any = _REQUIRED, low: float = 0.0) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(self.key(name), f"expected a number, got {_kind(value)}")
        if value < low:
            raise SettingsError(self.key(name), f"expected at least {low:g}, got {value}")
        return float(value)

    def path(self, name: str, default: Any = _REQUIRED) -> Path | None:
        value = self.raw(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise SettingsError(self.key(name), f"expected a path, got {_kind(value)}")
        return (self._base / value).resolve()

    def items(self, name: str, default: Any = _REQUIRED) -> list[Any]:
        value = self.raw(name, default)
        if not isinstance(value, list):
            raise SettingsError(self.key(name), f"expected a list, got {_kind(value)}")
        return value

    def ports(self, name: str, default: Any = _REQUIRED) -> tuple[int, ...]:
        ports = self.items(name, default)
        for index, port in enumerate(ports):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise SettingsError(f"{self.key(name)}[{index}]", f"expected a port, got {port!r}")
        return tuple(ports)

    def section(self, name: str, keys: tuple[str, ...], required: bool = True) -> _Section:
        data = self.raw(name, _REQUIRED if required else {})
        return _Section(data, self.key(name), self._base, keys)


def load(path: Path) -> Settings:
    """Read and check a configuration file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError("(file)", f"cannot read {path}: {error}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SettingsError("(yaml)", f"not valid YAML: {_yaml_where(error)}") from error
    return parse(data, path.resolve().parent)


def parse(data: Any, base_dir: Path) -> Settings:
    """Check a configuration already read from YAML; relative paths start at ``base_dir``."""
    top = _Section(data, "", base_dir, TOP_KEYS)
    settings = Settings(
        hostname=_hostname(top),
        banner=top.text("banner", "ESMTP OCI Email Delivery emulator (ocirelay lab)"),
        listen=_listen(top.section("listen", LISTEN_KEYS, required=False)),
        tls=_tls(top.section("tls", TLS_KEYS)),
        credentials=_credentials(top),
        approved_senders=_addresses(top, "approved_senders", allow_domains=True),
        require_header_from_match=top.boolean("require_header_from_match", True),
        suppressed_recipients=_addresses(top, "suppressed_recipients", default=[]),
        suppressed_reply=_suppressed_reply(top),
        limits=_limits(top.section("limits", LIMITS_KEYS, required=False)),
        auth_throttle=_auth_throttle(top.section("auth_throttle", THROTTLE_KEYS, required=False)),
        faults=_faults(top),
        state_dir=_state_dir(top),
        session_timeout=top.number("session_timeout", 300.0, low=0.1),
        log_level=_log_level(top),
    )
    return settings


def _hostname(top: _Section) -> str:
    name = top.text("hostname")
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", name):
        raise SettingsError("hostname", f"not a host name: {name!r}")
    return name


def _listen(section: _Section) -> Listen:
    listen = Listen(
        address=section.text("address", "0.0.0.0"),
        starttls_ports=section.ports("starttls_ports", [587]),
        tls_ports=section.ports("tls_ports", [465]),
    )
    if not listen.starttls_ports and not listen.tls_ports:
        raise SettingsError(section.key("starttls_ports"), "no port to listen on at all")
    fixed = [port for port in listen.starttls_ports + listen.tls_ports if port]
    if len(fixed) != len(set(fixed)):
        raise SettingsError(section.key("tls_ports"), "a port is listed twice")
    return listen


def _tls(section: _Section) -> TLSFiles:
    files = TLSFiles(
        cert=_required_path(section, "cert"),
        key=_required_path(section, "key"),
        wrong_cert=section.path("wrong_cert", None),
        wrong_key=section.path("wrong_key", None),
        tls12_ciphers=section.text("tls12_ciphers", DEFAULT_TLS12_CIPHERS),
    )
    if (files.wrong_cert is None) != (files.wrong_key is None):
        raise SettingsError(section.key("wrong_key"), "give wrong_cert and wrong_key together")
    return files


def _required_path(section: _Section, name: str) -> Path:
    path = section.path(name)
    assert path is not None  # a required key is never None
    return path


def _credentials(top: _Section) -> tuple[Credential, ...]:
    entries = top.items("credentials")
    if not entries:
        raise SettingsError("credentials", "at least one credential is needed")
    credentials = []
    for index, entry in enumerate(entries):
        item = _Section(entry, f"credentials[{index}]", Path("."), ("username", "password"))
        credentials.append(Credential(item.text("username"), _password(item)))
    return tuple(credentials)


def _password(item: _Section) -> str:
    value = item.raw("password")
    if not isinstance(value, str) or not value:
        # Never echo the value: it is a password.
        raise SettingsError(item.key("password"), "expected a non-empty string")
    return value


def _addresses(
    top: _Section, name: str, default: Any = _REQUIRED, allow_domains: bool = False
) -> tuple[str, ...]:
    result = []
    for index, value in enumerate(top.items(name, default)):
        key = f"{name}[{index}]"
        if not isinstance(value, str):
            raise SettingsError(key, f"expected an address, got {_kind(value)}")
        local, at, domain = value.rpartition("@")
        if not at or not domain or " " in value or (not local and not allow_domains):
            wanted = "an address or @domain" if allow_domains else "an address"
            raise SettingsError(key, f"expected {wanted}, got {value!r}")
        result.append(value.lower())
    return tuple(result)


def _suppressed_reply(top: _Section) -> str:
    reply = top.text("suppressed_reply", "250 OK")
    if not re.fullmatch(r"2\d\d( [\x20-\x7e]*)?", reply):
        raise SettingsError("suppressed_reply", f"expected a 2xx reply line, got {reply!r}")
    return reply


def _limits(section: _Section) -> Limits:
    limits = Limits(
        max_message_bytes=section.integer("max_message_bytes", 2 * 1024 * 1024, low=1),
        per_minute=section.integer("per_minute", 10),
        per_day=section.integer("per_day", 200),
    )
    return limits


def _auth_throttle(section: _Section) -> AuthThrottle:
    throttle = AuthThrottle(
        max_failures=section.integer("max_failures", 3),
        window_seconds=section.number("window_seconds", 300.0, low=1.0),
    )
    return throttle


def _faults(top: _Section) -> Faults:
    values = top.raw("faults", {})
    if not isinstance(values, Mapping):
        raise SettingsError("faults", f"expected a mapping, got {_kind(values)}")
    try:
        return Faults().changed(values, where="faults")
    except FaultError as error:
        raise SettingsError(error.key, str(error).split(": ", 1)[1]) from error


def _state_dir(top: _Section) -> Path:
    path = top.path("state_dir")
    assert path is not None
    socket_path = path / CONTROL_SOCKET
    if len(str(socket_path).encode()) > UNIX_SOCKET_PATH_MAX:
        raise SettingsError(
            "state_dir",
            f"too long for a Unix socket path ({socket_path} is over "
            f"{UNIX_SOCKET_PATH_MAX} bytes); choose a shorter directory",
        )
    return path


def _log_level(top: _Section) -> str:
    level = top.text("log_level", "info")
    if level not in LOG_LEVELS:
        raise SettingsError("log_level", f"expected one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return level


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _yaml_where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
