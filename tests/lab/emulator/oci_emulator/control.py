"""The control channel: a Unix socket at ``<state_dir>/control.sock``, one JSON object per line.

Requests and replies (each reply comes only once the change is in effect)::

    {"op": "status"}                                  -> {"ok": true, "listeners": [...], ...}
    {"op": "set_faults", "faults": {"down": true}}    -> {"ok": true, "faults": {...}}
    {"op": "clear_faults"}                            -> {"ok": true, "faults": {...}}
    {"op": "set_limits", "limits": {"per_day": 3}}    -> {"ok": true, "limits": {...}}
    {"op": "reset"}  (faults, limits, counters, store) -> {"ok": true, "faults": {...}}
    {"op": "reset_store"}                             -> {"ok": true}
    {"op": "wait_for_messages", "count": 2, "timeout": 5}
                                                      -> {"ok": true, "count": 2}
    anything refused                                  -> {"ok": false, "error": "..."}
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator

log = logging.getLogger("oci_emulator.control")
MAX_WAIT_SECONDS = 3600.0


class ControlError(ValueError):
    pass


class ControlServer:
    def __init__(self, path: Path, emulator: Emulator) -> None:
        self.path = path
        self._emulator = emulator
        self._server: asyncio.AbstractServer | None = None
        self._ops: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "status": self._status,
            "set_faults": self._set_faults,
            "clear_faults": self._clear_faults,
            "set_limits": self._set_limits,
            "reset": self._reset,
            "reset_store": self._reset_store,
            "wait_for_messages": self._wait_for_messages,
        }

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()  # left over by an emulator that was killed
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        log.info("control socket %s", self.path)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await self.handle(line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(self, line: bytes) -> dict[str, Any]:
        """One request line in, one reply object out; never raises for a bad request."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ControlError('expected a JSON object with a string "op"')
            operation = self._ops.get(request["op"])
            if operation is None:
                raise ControlError(f"unknown op {request['op']!r} (known: {', '.join(self._ops)})")
            result = await operation(request)
        except (ValueError, OSError) as error:  # JSON, ControlError, FaultError, bind, timeout
            log.info("control request refused: %s", error)
            return {"ok": False, "error": str(error) or type(error).__name__}
        except Exception as error:  # a bug: report it rather than drop the connection
            log.exception("control request failed")
            return {"ok": False, "error": f"internal error: {error!r}"}
        log.info("control %s done", request["op"])
        return {"ok": True, **result}

    async def _status(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._emulator.status()

    async def _set_faults(self, request: dict[str, Any]) -> dict[str, Any]:
        changes = request.get("faults")
        if not isinstance(changes, dict):
            raise ControlError('set_faults needs "faults": an object of fault names and values')
        faults = await self._emulator.set_faults(changes)
        return {"faults": faults.as_dict()}

    async def _set_limits(self, request: dict[str, Any]) -> dict[str, Any]:
        changes = request.get("limits")
        if not isinstance(changes, dict):
            raise ControlError('set_limits needs "limits": an object of limit names and values')
        return {"limits": self._emulator.set_limits(changes)}

    async def _clear_faults(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"faults": (await self._emulator.clear_faults()).as_dict()}

    async def _reset(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"faults": (await self._emulator.reset()).as_dict()}

    async def _reset_store(self, request: dict[str, Any]) -> dict[str, Any]:
        self._emulator.reset_store()
        return {}

    async def _wait_for_messages(self, request: dict[str, Any]) -> dict[str, Any]:
        count = request.get("count")
        timeout = request.get("timeout", 10.0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ControlError('wait_for_messages needs "count": an integer >= 0')
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ControlError('"timeout" must be a number of seconds')
        if not 0 <= timeout <= MAX_WAIT_SECONDS:
            raise ControlError(f'"timeout" must be 0 to {MAX_WAIT_SECONDS:g} seconds')
        runtime = self._emulator.runtime
        try:
            stored = await runtime.wait_for_messages(count, float(timeout))
        except TimeoutError as error:
            raise TimeoutError(
                f"timed out after {timeout:g} s: {runtime.store.count} of {count} messages"
            ) from error
        return {"count": stored}
