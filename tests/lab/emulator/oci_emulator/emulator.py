"""The whole emulator: state, listeners and control channel, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from .clock import Clock, SystemClock
from .control import ControlServer
from .faults import FaultError, Faults
from .listeners import Listeners
from .runtime import Runtime
from .settings import Settings
from .tlsctx import ServerContexts

log = logging.getLogger("oci_emulator")


class Emulator:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        contexts = ServerContexts(settings.tls)  # TLSConfigError names the key at fault
        self.runtime = Runtime(settings, clock or SystemClock(), contexts)
        self.listeners = Listeners(self.runtime)
        self.control = ControlServer(settings.control_socket, self)
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Listen (unless configured down) and open the control socket."""
        await self.listeners.apply(self.runtime.faults)
        await self.control.start()
        log.info("emulating %s; faults on: %s", self.settings.hostname,
                 ", ".join(self.runtime.faults.active()) or "none")

    async def stop(self) -> None:
        await self.control.stop()
        await self.listeners.stop()
        await self.runtime.abort_sessions()

    # --- operations of the control channel ------------------------------------------------
    async def set_faults(self, changes: Mapping[str, Any]) -> Faults:
        """Apply a change of faults; returns once the new state is in effect."""
        async with self._lock:
            faults = self.runtime.faults.changed(changes)
            return await self._apply(faults)

    async def clear_faults(self) -> Faults:
        """Back to the faults of the configuration file."""
        async with self._lock:
            return await self._apply(self.settings.faults)

    async def reset(self) -> Faults:
        """As if freshly started: configured faults and limits, empty counters and store."""
        async with self._lock:
            faults = await self._apply(self.settings.faults)
            self.runtime.reset()
            self.runtime.store.clear()
            return faults

    def set_limits(self, changes: Mapping[str, Any]) -> dict[str, int]:
        limits = self.runtime.set_limits(changes)
        log.info("limits now %s", limits)
        return limits

    def reset_store(self) -> None:
        self.runtime.store.clear()

    def status(self) -> dict[str, Any]:
        return {
            "hostname": self.settings.hostname,
            "listeners": self.listeners.describe(),
            **self.runtime.status(),
        }

    async def _apply(self, faults: Faults) -> Faults:
        if faults.wrong_certificate and not self.runtime.contexts.has_wrong_certificate:
            raise FaultError("faults.wrong_certificate",
                             "tls.wrong_cert and tls.wrong_key are not configured")
        self.runtime.faults = faults
        await self.listeners.apply(faults)
        log.info("faults on: %s", ", ".join(faults.active()) or "none")
        return faults
