"""The message store: what a record holds, and that a reader never sees half of one."""

from __future__ import annotations

import json
import os
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path

import pytest
from emu_support import (
    PASSWORD,
    PKI,
    RECIPIENT,
    SENDER,
    SUPPRESSED,
    USERNAME,
    Running,
    implicit,
    logged_in,
    message,
)
from oci_emulator import store
from oci_emulator.store import Store, read_records


def test_record_of_a_starttls_message(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    raw = message(subject="record me")
    smtp.sendmail(SENDER, [RECIPIENT, SUPPRESSED], raw)
    client_port, helo = smtp.sock.getsockname()[1], smtp.local_hostname
    smtp.quit()
    [record] = emu.client.messages()
    assert record["id"] == "000001"
    assert record["time"] == "2023-11-14T22:13:20.000+00:00"  # the fake clock's start
    assert record["client"] == {"ip": "127.0.0.1", "port": client_port, "helo": helo}
    assert record["listener"] == {"mode": "starttls", "port": emu.port("starttls")}
    assert record["tls"]["version"] == "TLSv1.3"
    assert record["tls"]["cipher"].startswith("TLS_")
    assert record["auth"] == {"mechanism": "PLAIN", "login": USERNAME}
    assert record["envelope"]["mail_from"] == SENDER
    assert record["envelope"]["rcpt_to"] == [RECIPIENT, SUPPRESSED]
    assert record["envelope"]["delivered"] == [RECIPIENT]
    assert record["envelope"]["suppressed"] == [SUPPRESSED]
    assert record["headers"] == {"from": [SENDER], "subject": "record me",
                                 "message_id": "<test@example.com>"}
    eml = emu.settings.state_dir / "messages" / record["eml"]
    assert eml.read_bytes() == raw
    assert record["size"] == len(raw)
    assert record["raw"] == raw.decode()


def test_record_of_an_implicit_tls_message(emu: Running, pki: PKI) -> None:
    smtp = implicit(emu, pki)
    smtp.login(USERNAME, PASSWORD)
    smtp.sendmail(SENDER, [RECIPIENT], message())
    smtp.quit()
    [record] = emu.client.messages()
    assert record["listener"] == {"mode": "tls", "port": emu.port("tls")}
    assert record["tls"]["version"] in ("TLSv1.2", "TLSv1.3")


def test_no_password_in_the_store(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    smtp.sendmail(SENDER, [RECIPIENT], message())
    smtp.quit()
    blob = b64encode(f"\0{USERNAME}\0{PASSWORD}".encode())
    files = list(emu.settings.state_dir.rglob("*"))
    assert any(path.suffix == ".json" for path in files)
    for path in files:
        if path.is_file():
            content = path.read_bytes()
            assert PASSWORD.encode() not in content
            assert json.dumps(PASSWORD).encode()[1:-1] not in content
            assert blob not in content


def test_numbering_survives_a_restart_and_reset_store_starts_over(
    start: Callable[..., Running], pki: PKI
) -> None:
    first = start()
    smtp = logged_in(first, pki)
    smtp.sendmail(SENDER, [RECIPIENT], message())
    smtp.quit()
    first.stop()
    second = start()
    smtp = logged_in(second, pki)
    smtp.sendmail(SENDER, [RECIPIENT], message())
    assert [m["id"] for m in second.client.messages()] == ["000001", "000002"]
    second.client.reset_store()
    assert second.client.messages() == []
    smtp.sendmail(SENDER, [RECIPIENT], message())
    smtp.quit()
    assert [m["id"] for m in second.client.messages()] == ["000001"]


def test_message_is_written_before_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed: list[str] = []
    real_replace = os.replace

    def spying_replace(source: Path, target: Path) -> None:
        real_replace(source, target)
        renamed.append(Path(target).name)

    monkeypatch.setattr(store.os, "replace", spying_replace)
    Store(tmp_path).save({"note": "x"}, b"Subject: x\r\n\r\nbody\r\n")
    assert renamed == ["000001.eml", "000001.json"]


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        Store(tmp_path).save({"note": "x"}, b"Subject: x\r\n\r\nbody\r\n")
    assert list((tmp_path / "messages").iterdir()) == []
    assert read_records(tmp_path) == []


def test_readers_skip_files_being_written(tmp_path: Path) -> None:
    kept = Store(tmp_path)
    kept.save({"note": "complete"}, b"Subject: x\r\n\r\nbody\r\n")
    (tmp_path / "messages" / "000002.json.tmp").write_text('{"note": "half')
    assert [record["note"] for record in read_records(tmp_path)] == ["complete"]
