"""One SMTP session with the emulated endpoint: aiosmtpd's protocol, with OCI's rules.

aiosmtpd does the SMTP framing, STARTTLS and DATA; this subclass adds what OCI does:
- before TLS only EHLO, HELO, STARTTLS, NOOP, RSET and QUIT are served, anything else gets 530;
- EHLO offers STARTTLS before TLS, ``AUTH PLAIN`` after it, ``SIZE`` always;
- AUTH PLAIN only, with Oracle's 501/504/535 texts and the per-IP failure throttle (421);
- MAIL needs AUTH and an approved sender (null sender refused), the size and the send limits;
- at the end of DATA the header From must pass, then the message is stored;
- every reply goes through ``push``: reworded to Oracle's text where aiosmtpd has its own,
  delayed by the ``slow`` fault, counted, logged (never an AUTH argument), and a 421 closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, TLSSetupException

from . import auth, replies
from .messages import Headers, MessageParseError, read_headers
from .runtime import Runtime
from .tlsctx import describe

log = logging.getLogger("oci_emulator.smtp")

ALLOWED_BEFORE_TLS = frozenset({"EHLO", "HELO", "STARTTLS", "NOOP", "QUIT", "RSET"})
KNOWN_MAIL_PARAMETERS = frozenset({"SIZE", "BODY", "AUTH"})


@dataclass
class Listener:
    """A listening port: ``mode`` is "starttls" or "tls" (TLS from the first byte)."""

    mode: str
    port: int


@dataclass(frozen=True)
class MailRequest:
    address: str
    size: int | None
    options: list[str]


class _Verbs(dict[str, Any]):
    """aiosmtpd's verb table; before TLS it hands out the 530 refusal for every verb not allowed.

    aiosmtpd looks each command up with ``get`` (unknown verbs included), so this one place
    covers them all and also tells the session which verb it is answering, for the log.
    """

    def __init__(self, methods: dict[str, Any], session: OciSMTP) -> None:
        super().__init__(methods)
        self._session = session

    def get(self, verb: str, default: Any = None) -> Any:
        self._session.verb = verb
        if not self._session.tls_active and verb not in ALLOWED_BEFORE_TLS:
            return self._session.refuse_before_tls
        return super().get(verb, default)


class _Hooks:
    """aiosmtpd's handler interface, handing each event back to the session that raised it."""

    async def handle_EHLO(self, server: OciSMTP, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        return server.ehlo_lines(hostname)

    async def handle_RCPT(self, server: OciSMTP, session: Any, envelope: Any, address: str,
                          options: list[str]) -> Any:
        return server.on_rcpt(address)

    async def handle_DATA(self, server: OciSMTP, session: Any, envelope: Any) -> str:
        return server.on_data()


HOOKS = _Hooks()


class OciSMTP(SMTP):
    def __init__(self, runtime: Runtime, listener: Listener) -> None:
        self.rt = runtime
        self.listener = listener
        self.verb = "CONNECT"
        self.login: str | None = None
        self._greeted = False
        self._continuing: list[str] = []  # lines of a multi-line reply sent so far
        self._close_after_reply = False
        self._socket: Any = None  # the TCP socket under any TLS layer
        settings = runtime.settings
        super().__init__(
            HOOKS,
            hostname=settings.hostname,
            ident=settings.banner,
            data_size_limit=runtime.max_message_bytes,
            # Set for the STARTTLS port so aiosmtpd serves STARTTLS; the context actually used is
            # chosen at each STARTTLS from the faults in effect (see smtp_STARTTLS).
            tls_context=runtime.contexts.for_faults(runtime.faults)
            if listener.mode == "starttls" else None,
            require_starttls=False,  # our own gate (_Verbs) allows HELO and RSET too
            auth_require_tls=False,  # likewise: AUTH never gets past the gate before TLS
            auth_exclude_mechanism=["LOGIN"],
            timeout=settings.session_timeout,
            loop=asyncio.get_running_loop(),
        )
        self._smtp_methods = _Verbs(self._smtp_methods, self)

    # --- state ----------------------------------------------------------------------------
    @property  # type: ignore[override]
    def data_size_limit(self) -> int:
        """aiosmtpd reads this at EHLO and DATA; it follows the runtime (set_limits)."""
        return self.rt.max_message_bytes

    @data_size_limit.setter
    def data_size_limit(self, value: int | None) -> None:
        """aiosmtpd's __init__ assigns it; the runtime's value stays the one in force."""

    @property
    def tls_active(self) -> bool:
        return self.listener.mode == "tls" or self._tls_protocol is not None

    @property
    def peer_ip(self) -> str:
        peer = self.session.peer if self.session else None
        return str(peer[0]) if peer else "?"

    @property
    def peer_label(self) -> str:
        peer = self.session.peer if self.session else None
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    def tls_info(self) -> dict[str, object] | None:
        if not self.tls_active or self.transport is None:
            return None
        return describe(self.transport.get_extra_info("ssl_object"))

    def abort(self) -> None:
        """Drop the connection at once (the down fault, stopping the emulator).

        Shutting the TCP socket down reaches the connection whatever state its TLS layer is
        in: asyncio's TLS transport refuses abort() once it has been closed twice, while its
        shutdown may still be waiting for the client.
        """
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    # --- connection -----------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        upgraded = self._original_transport is not None  # STARTTLS handshake just completed
        super().connection_made(transport)
        if not upgraded:
            self._socket = transport.get_extra_info("socket")
            self.rt.session_opened(self)
            self.rt.stats.connections += 1
            log.info("%s port=%d connected", self.peer_label, self.listener.port)
        if self.tls_active:
            self.rt.stats.tls_handshakes += 1
            info = self.tls_info() or {}
            log.info("%s port=%d TLS %s %s", self.peer_label, self.listener.port,
                     info.get("version"), info.get("cipher"))

    def connection_lost(self, error: Exception | None) -> None:
        if self in self.rt.sessions:
            log.info("%s port=%d closed", self.peer_label, self.listener.port)
        super().connection_lost(error)
        self.rt.session_closed(self)

    def _timeout_cb(self) -> None:
        """A client silent for session_timeout: Oracle's 421, then aiosmtpd hangs up."""
        if self.transport is not None and not self.transport.is_closing():
            self.rt.stats.replies["421"] += 1
            log.info("%s port=%d idle -> %s", self.peer_label, self.listener.port,
                     replies.IDLE_TIMEOUT)
            self.transport.write(replies.IDLE_TIMEOUT.encode() + b"\r\n")
        super()._timeout_cb()

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            log.info("%s port=%d TLS handshake failed: %s",
                     self.peer_label, self.listener.port, error.__cause__)
            return ""  # aiosmtpd closes the connection without a reply
        log.error("%s port=%d %s failed", self.peer_label, self.listener.port, self.verb,
                  exc_info=error)
        return replies.ERROR_IN_PROCESSING

    # --- every reply ----------------------------------------------------------------------
    async def push(self, status: str | bytes) -> None:
        line = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        line = replies.REWORDED_FROM_AIOSMTPD.get(line, line)
        if not self._greeted:
            self._greeted = True
            line = self._greeting_refusal() or line
        final = line[3:4] != "-"
        if not self._continuing and self.rt.faults.slow:
            await _sleep(self.rt.faults.slow_seconds)
        self._note_reply(line, final)
        await super().push(line.encode("ascii", "backslashreplace"))
        closing = replies.closes_connection(line) or self._close_after_reply
        if final and closing and self.transport is not None:
            self.transport.close()

    def _note_reply(self, line: str, final: bool) -> None:
        """Count and log a reply once its last line goes out: one log line per reply."""
        if not final:
            self._continuing.append(line[4:] if self._continuing else f"{line[:3]} {line[4:]}")
            return
        whole = " / ".join([*self._continuing, line[4:]]) if self._continuing else line
        self._continuing = []
        self.rt.stats.replies[line[:3]] += 1
        log.info("%s port=%d %s -> %s", self.peer_label, self.listener.port, self.verb, whole)

    def _greeting_refusal(self) -> str | None:
        faults = self.rt.faults
        refusal = None
        if faults.throttled and faults.throttled_at == "connect":
            refusal = faults.throttle_reply()
        elif self.rt.throttle.throttled(self.peer_ip):
            refusal = replies.TOO_MANY_AUTH_FAILURES
        self._close_after_reply = refusal is not None
        return refusal

    async def refuse_before_tls(self, arg: str | None) -> None:
        if self.verb == "AUTH":
            self.rt.stats.cleartext_auth_attempts += 1
        await self.push(replies.MUST_STARTTLS)

    async def check_auth_needed(self, caller_method: str) -> bool:
        if self.session is not None and self.session.authenticated:
            return False
        await self.push(replies.AUTHENTICATION_REQUIRED)
        return True

    def _failure(self, reply: str) -> str:
        """Count a failure against the client's IP; the one that crosses the line gets 421."""
        if self.rt.throttle.record_failure(self.peer_ip):
            return replies.TOO_MANY_AUTH_FAILURES
        return reply

    # --- EHLO and STARTTLS ----------------------------------------------------------------
    def ehlo_lines(self, hostname: str) -> list[str]:
        assert self.session is not None
        self.session.host_name = hostname
        keywords = [self.hostname, f"SIZE {self.data_size_limit}", "8BITMIME"]
        if not self.tls_active and not self.rt.faults.starttls_stripped:
            keywords.append("STARTTLS")
        if self.tls_active:
            keywords.append("AUTH PLAIN")
        return [f"250-{word}" for word in keywords[:-1]] + [f"250 {keywords[-1]}"]

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.rt.faults.starttls_stripped:
            await self.push(replies.TLS_NOT_AVAILABLE)
            return
        if self.tls_active:
            await self.push(replies.TLS_ALREADY_ACTIVE)
            return
        self.tls_context = self.rt.contexts.for_faults(self.rt.faults)
        await super().smtp_STARTTLS(arg)

    # --- AUTH -----------------------------------------------------------------------------
    async def smtp_AUTH(self, arg: str | None) -> None:
        if await self.check_helo_needed("EHLO"):
            return
        assert self.session is not None
        reply = self._auth_precheck(arg)
        if reply is None:
            reply = await self._auth_plain((arg or "").split()[1:])
        if reply:
            await self.push(reply)

    def _auth_precheck(self, arg: str | None) -> str | None:
        assert self.session is not None
        if self.session.authenticated:
            return replies.ALREADY_AUTHENTICATED
        if self.rt.throttle.throttled(self.peer_ip):
            return replies.TOO_MANY_AUTH_FAILURES
        words = (arg or "").split()
        if not words or len(words) > 2:
            return replies.AUTH_SYNTAX
        if words[0].upper() != "PLAIN":
            return replies.METHOD_NOT_SUPPORTED
        return None

    async def _auth_plain(self, initial: list[str]) -> str | None:
        """Run PLAIN; the reply to send, or None if one was already sent."""
        assert self.session is not None
        try:
            if initial:
                blob = auth.decode_base64(initial[0])
            else:
                challenged = await self.challenge_auth("")
                if challenged is MISSING:
                    return None  # aiosmtpd answered ("*" abort or bad base64, reworded)
                assert isinstance(challenged, bytes)
                blob = challenged
            response = auth.split_plain(blob)
        except auth.PlainError as error:
            return error.reply
        if not auth.verify(response, self.rt.settings.credentials):
            log.info("%s AUTH PLAIN login=%r refused", self.peer_label, response.login_name)
            return self._failure(replies.CREDENTIALS_INVALID)
        self.session.authenticated = True
        self.login = response.login_name
        log.info("%s AUTH PLAIN login=%r accepted", self.peer_label, self.login)
        return replies.AUTH_SUCCESSFUL

    # --- MAIL -----------------------------------------------------------------------------
    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("MAIL"):
            return
        assert self.envelope is not None
        faults = self.rt.faults
        if faults.throttled and faults.throttled_at == "mail":
            await self.push(faults.throttle_reply())
            return
        request = self._parse_mail(arg)
        if isinstance(request, str):
            await self.push(request)
            return
        if self.envelope.mail_from is not None:
            await self.push(replies.NESTED_MAIL)
            return
        refusal = self._mail_refusal(request)
        if refusal is not None:
            await self.push(refusal)
            return
        self.envelope.mail_from = request.address
        self.envelope.mail_options.extend(request.options)
        await self.push(replies.OK)

    def _parse_mail(self, arg: str | None) -> MailRequest | str:
        """The sender and parameters of ``MAIL FROM:<a> ...``, or the reply refusing it."""
        rest = self._strip_command_keyword("FROM:", arg) if arg else None
        if rest is None:
            return replies.MAIL_SYNTAX
        address, params = self._getaddr(rest)
        if address is None or params is None:
            return replies.INVALID_ADDRESS
        if not address:
            return replies.MAIL_SYNTAX
        if address == "<>":
            address = ""  # the null sender; refused by policy, not by syntax
        elif "@" not in address:
            return replies.INVALID_ADDRESS
        options = params.split()
        parsed = self._getparams([option.upper() for option in options])
        if parsed is None:
            return replies.MAIL_SYNTAX
        if set(parsed) - KNOWN_MAIL_PARAMETERS:
            return replies.UNKNOWN_MAIL_PARAMETER
        size = parsed.get("SIZE")
        if size is not None and (not isinstance(size, str) or not size.isdigit()):
            return replies.MAIL_SYNTAX
        return MailRequest(address, int(size) if size else None, options)

    def _mail_refusal(self, request: MailRequest) -> str | None:
        if request.size is not None and request.size > self.rt.max_message_bytes:
            return replies.EXCEEDS_BYTE_LIMIT
        # Oracle refuses an empty envelope sender (bounces, autoreplies) like any sender that
        # is not approved: the 535 "Authorization failed" naming it (shown as "<>"), and it
        # counts towards the IP throttle as a non-approved sender does.
        refusal = self.rt.senders.envelope_refusal(request.address)
        if refusal is not None:
            return self._failure(refusal)
        return self.rt.limits.refusal()

    # --- RCPT and DATA --------------------------------------------------------------------
    def on_rcpt(self, address: str) -> Any:
        assert self.envelope is not None
        if "@" not in address:
            return replies.INVALID_ADDRESS
        if address in self.rt.suppression:
            # Accepted, never delivered: the store records it under "suppressed".
            self.envelope.rcpt_tos.append(address)
            return self.rt.settings.suppressed_reply
        return MISSING  # aiosmtpd records the recipient and answers 250 OK

    def on_data(self) -> str:
        assert self.envelope is not None
        raw = self.envelope.original_content or b""
        try:
            headers = read_headers(raw)
        except MessageParseError:
            return replies.PARSE_ERROR
        sender = self.envelope.mail_from or ""
        refusal = self.rt.senders.header_refusal(sender, headers.from_addresses)
        if refusal is not None:
            return self._failure(refusal)
        limited = self.rt.limits.refusal()  # again: other sessions may have sent meanwhile
        if limited is not None:
            return limited
        message_id = self.rt.accept(self._record(headers, raw), raw)
        log.info("%s stored id=%s from=%s to=%s", self.peer_label, message_id, sender,
                 ",".join(self.envelope.rcpt_tos))
        return replies.ACCEPTED.format(id=message_id)

    def _record(self, headers: Headers, raw: bytes) -> dict[str, Any]:
        assert self.envelope is not None and self.session is not None
        recipients = list(self.envelope.rcpt_tos)
        peer = self.session.peer or ("?", 0)
        return {
            "time": self.rt.now_iso(),
            "timestamp": self.rt.clock.now(),
            "client": {"ip": str(peer[0]), "port": peer[1], "helo": self.session.host_name},
            "listener": {"mode": self.listener.mode, "port": self.listener.port},
            "tls": self.tls_info(),
            "auth": {"mechanism": "PLAIN", "login": self.login},
            "envelope": {
                "mail_from": self.envelope.mail_from,
                "rcpt_to": recipients,
                "delivered": [r for r in recipients if r not in self.rt.suppression],
                "suppressed": [r for r in recipients if r in self.rt.suppression],
                "mail_options": list(self.envelope.mail_options),
            },
            "headers": {
                "from": list(headers.from_addresses),
                "subject": headers.subject,
                "message_id": headers.message_id,
            },
            "size": len(raw),
            "raw": raw.decode("utf-8", errors="replace"),
        }


async def _sleep(seconds: float) -> None:
    """The ``slow`` fault's delay (a behaviour of the emulated endpoint, not synchronisation)."""
    await asyncio.sleep(seconds)
