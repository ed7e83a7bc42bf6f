"""The listening sockets, started and stopped as the ``down`` fault requires.

``down`` closes every listener (new connections are refused) and drops live sessions; clearing
it listens again on the same ports. ``apply`` returns only once the change is in effect.

Implicit-TLS connections are wrapped here, per connection, in asyncio's ``SSLProtocol`` (the
class aiosmtpd itself uses for STARTTLS) rather than by ``create_server(ssl=...)``: the TLS
context then follows the faults in force when the client connects, with no listener restart,
and a failed handshake is logged with its reason (asyncio would fail it silently).
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import sslproto
from typing import Any

from .faults import Faults
from .runtime import Runtime
from .server import Listener, OciSMTP

log = logging.getLogger("oci_emulator")
smtp_log = logging.getLogger("oci_emulator.smtp")


class _ImplicitTLS(sslproto.SSLProtocol):
    """TLS from the first byte in front of one SMTP session; logs a failed handshake."""

    def __init__(self, loop: asyncio.AbstractEventLoop, session: OciSMTP, runtime: Runtime,
                 listener: Listener) -> None:
        self._listener = listener
        self._peer = "?"
        waiter = loop.create_future()
        waiter.add_done_callback(self._handshake_done)
        context = runtime.contexts.for_faults(runtime.faults)
        super().__init__(loop, session, context, waiter, server_side=True)

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        super().connection_made(transport)

    def _handshake_done(self, waiter: asyncio.Future[Any]) -> None:
        if waiter.cancelled() or waiter.exception() is None:
            return
        smtp_log.info("%s port=%d TLS handshake failed: %s", self._peer, self._listener.port,
                      waiter.exception())


class Listeners:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        listen = runtime.settings.listen
        self.all = [Listener("starttls", port) for port in listen.starttls_ports] + [
            Listener("tls", port) for port in listen.tls_ports
        ]
        self._servers: dict[int, asyncio.Server] = {}

    def describe(self) -> list[dict[str, object]]:
        return [
            {"mode": item.mode, "port": item.port, "listening": index in self._servers}
            for index, item in enumerate(self.all)
        ]

    async def apply(self, faults: Faults) -> None:
        if faults.down:
            await self.stop()
            await self._rt.abort_sessions()
            return
        for index, listener in enumerate(self.all):
            if index not in self._servers:
                self._servers[index] = await self._start(listener)

    async def stop(self) -> None:
        for index, listener in enumerate(self.all):
            server = self._servers.pop(index, None)
            if server is not None:
                server.close()
                await server.wait_closed()
                log.info("stopped listening on port %d", listener.port)

    async def _start(self, listener: Listener) -> asyncio.Server:
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.BaseProtocol:
            session = OciSMTP(self._rt, listener)
            if listener.mode == "starttls":
                return session
            return _ImplicitTLS(loop, session, self._rt, listener)

        server = await loop.create_server(
            protocol, host=self._rt.settings.listen.address, port=listener.port,
            start_serving=False,
        )
        listener.port = server.sockets[0].getsockname()[1]  # the real port when 0 was asked
        await server.start_serving()
        log.info("listening on %s:%d (%s)", self._rt.settings.listen.address, listener.port,
                 listener.mode)
        return server
