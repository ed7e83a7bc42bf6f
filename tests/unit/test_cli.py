"""The `ocirelay` command: exit codes, messages naming the key, --json, and no secret in output."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from relay_samples import AWKWARD_PASSWORD

from ocirelay.cli import main

BAD_INPUTS = {
    "unknown region": ({"oci_relay_region": "us-ashbrun-1"}, "oci_relay_region"),
    "port 25": ({"oci_relay_port": 25}, "oci_relay_port"),
    "empty password": ({"oci_relay_password": ""}, "oci_relay_password"),
    "unapproved default": ({"oci_relay_default_sender": "x@other.net"},
                           "oci_relay_default_sender"),
    "tls may": ({"oci_relay_tls_level": "may"}, "oci_relay_tls_level"),
    "open relay": ({"oci_relay_relay_networks": ["0.0.0.0/0"]}, "oci_relay_relay_networks"),
    "misspelled key": ({"oci_relay_prot": 587}, "oci_relay_prot"),
}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_file(capsys: pytest.CaptureFixture[str],
                             description: Callable[..., Path]) -> None:
    code, out, err = run_cli(capsys, "validate", str(description()))
    assert (code, err) == (0, "")
    assert "valid" in out and "[smtp.email.us-ashburn-1.oci.oraclecloud.com]:587" in out


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_validate_bad_input_exits_2_naming_the_key(capsys: pytest.CaptureFixture[str],
                                                   description: Callable[..., Path],
                                                   case: str) -> None:
    overrides, key = BAD_INPUTS[case]
    code, _, err = run_cli(capsys, "validate", str(description(**overrides)))
    assert code == 2
    assert f"error: {key}:" in err
    assert "nothing was changed" in err

    code, out, _ = run_cli(capsys, "validate", "--json", str(description(**overrides)))
    report = json.loads(out)
    assert code == 2 and report["valid"] is False
    assert key in [p["key"] for p in report["problems"] if p["severity"] == "error"]
    assert all(set(p) >= {"key", "message", "fix", "value", "allowed"}
               for p in report["problems"])


def test_yaml_parse_error_exits_2_with_line_and_column(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("oci_relay_region: 'us-ashburn-1\n")
    code, _, err = run_cli(capsys, "validate", str(path))
    assert code == 2 and f"{path}:2:1" in err


def test_missing_file_and_usage_errors(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "validate", str(tmp_path / "nope.yml"))
    assert code == 2 and "does not exist" in err
    with pytest.raises(SystemExit) as usage:
        main(["render", "x.yml"])
    assert usage.value.code == 2


def test_render_writes_files_with_modes_and_json(capsys: pytest.CaptureFixture[str],
                                                 description: Callable[..., Path],
                                                 tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = run_cli(capsys, "render", str(description()), "--out", str(out_dir), "--json")
    assert code == 0
    files = {Path(f["path"]).name: f["mode"] for f in json.loads(out)["files"]}
    assert files == {"main.cf": "0644", "master.cf": "0644", "oci_sasl_passwd": "0600",
                     "oci_sender_transport": "0644", "oci_sender_canonical": "0644",
                     "oci_header_from": "0644"}
    assert stat.S_IMODE((out_dir / "oci_sasl_passwd").stat().st_mode) == 0o600


def test_render_of_invalid_description_writes_nothing(capsys: pytest.CaptureFixture[str],
                                                      description: Callable[..., Path],
                                                      tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, _, _ = run_cli(capsys, "render", str(description(oci_relay_port=25)),
                         "--out", str(out_dir))
    assert code == 2 and not out_dir.exists()


def test_render_into_unwritable_place_exits_1(capsys: pytest.CaptureFixture[str],
                                              description: Callable[..., Path],
                                              tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "render", str(description()), "--out", str(blocker / "x"))
    assert code == 1 and "cannot write" in err


def test_no_command_output_holds_the_password(capsys: pytest.CaptureFixture[str],
                                              description: Callable[..., Path],
                                              tmp_path: Path) -> None:
    outputs = []
    for argv in (["validate", str(description(oci_relay_port=25))],
                 ["validate", "--json", str(description(oci_relay_password=" x "))],
                 ["render", str(description()), "--out", str(tmp_path / "a")],
                 ["render", "--json", str(description()), "--out", str(tmp_path / "b")]):
        outputs.append("".join(run_cli(capsys, *argv)[1:]))
    assert all(AWKWARD_PASSWORD not in text for text in outputs)


def test_installed_console_script(description: Callable[..., Path]) -> None:
    script = shutil.which("ocirelay") or str(Path(__file__).parents[2] / ".venv/bin/ocirelay")
    result = subprocess.run([script, "validate", str(description(oci_relay_port=2525))],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "oci_relay_port" in result.stderr
    assert "Traceback" not in result.stderr
