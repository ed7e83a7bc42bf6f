"""The listening sockets: started, stopped and restarted as the faults require.

``down`` closes every listener (new connections are refused) and drops live sessions; clearing
it listens again on the same ports. An implicit-TLS listener carries its TLS context from the
moment it starts, so a change of the TLS faults restarts it; STARTTLS listeners pick the context
at each STARTTLS and need no restart. ``apply`` returns only once the change is in effect.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from .faults import Faults
from .runtime import Runtime
from .server import Listener, OciSMTP

log = logging.getLogger("oci_emulator")


@dataclass
class _Running:
    server: asyncio.Server
    tls_key: tuple[bool, bool] | None


class Listeners:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        listen = runtime.settings.listen
        self.all = [Listener("starttls", port) for port in listen.starttls_ports] + [
            Listener("tls", port) for port in listen.tls_ports
        ]
        self._running: dict[int, _Running] = {}

    def describe(self) -> list[dict[str, object]]:
        return [
            {"mode": item.mode, "port": item.port, "listening": id(item) in self._running}
            for item in self.all
        ]

    async def apply(self, faults: Faults) -> None:
        if faults.down:
            await self.stop()
            await self._rt.abort_sessions()
            return
        for listener in self.all:
            running = self._running.get(id(listener))
            wanted = faults.tls_key() if listener.mode == "tls" else None
            if running is not None and running.tls_key != wanted:
                await self._stop(listener)
                running = None
            if running is None:
                await self._start(listener, faults)

    async def stop(self) -> None:
        for listener in self.all:
            await self._stop(listener)

    async def _start(self, listener: Listener, faults: Faults) -> None:
        loop = asyncio.get_running_loop()
        context = self._rt.contexts.for_faults(faults) if listener.mode == "tls" else None
        server = await loop.create_server(
            lambda: OciSMTP(self._rt, listener),
            host=self._rt.settings.listen.address,
            port=listener.port,
            ssl=context,
            start_serving=False,
        )
        listener.port = server.sockets[0].getsockname()[1]  # the real port when 0 was asked
        await server.start_serving()
        key = faults.tls_key() if listener.mode == "tls" else None
        self._running[id(listener)] = _Running(server, key)
        log.info("listening on %s:%d (%s)", self._rt.settings.listen.address, listener.port,
                 listener.mode)

    async def _stop(self, listener: Listener) -> None:
        running = self._running.pop(id(listener), None)
        if running is None:
            return
        running.server.close()
        await running.server.wait_closed()
        log.info("stopped listening on port %d", listener.port)
