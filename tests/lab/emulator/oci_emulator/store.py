"""The message store: one JSON record and one raw .eml per accepted message.

Layout: ``<state_dir>/messages/000001.json`` and ``000001.eml``. Both are written to a
temporary name and renamed into place, the .eml first, so a reader that lists ``*.json``
never sees half a record nor a record without its message. Numbering continues after a
restart; ``clear()`` empties the store and starts again at 000001.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MESSAGES = "messages"


def messages_dir(state_dir: Path) -> Path:
    return state_dir / MESSAGES


def read_records(state_dir: Path) -> list[dict[str, Any]]:
    """Every complete record, oldest first."""
    folder = messages_dir(state_dir)
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("*.json"), key=lambda path: int(path.stem))
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def atomic_write(path: Path, data: bytes) -> None:
    """Write to ``<name>.tmp``, then rename: ``path`` is either absent or complete."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.folder = messages_dir(state_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(path.stem) for path in self.folder.glob("*.json") if path.stem.isdigit()]
        self._last = max(numbers, default=0)
        self._count = len(numbers)

    @property
    def count(self) -> int:
        return self._count

    def next_id(self) -> str:
        return f"{self._last + 1:06d}"

    def save(self, record: dict[str, Any], raw: bytes) -> str:
        """Write one accepted message; returns its id."""
        message_id = self.next_id()
        atomic_write(self.folder / f"{message_id}.eml", raw)
        record = {"id": message_id, **record, "eml": f"{message_id}.eml"}
        text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        atomic_write(self.folder / f"{message_id}.json", text.encode("utf-8"))
        self._last += 1
        self._count += 1
        return message_id

    def clear(self) -> None:
        for path in self.folder.iterdir():
            if path.suffix in (".json", ".eml", ".tmp"):
                path.unlink()
        self._last = 0
        self._count = 0
