"""Pacing benchmark: a burst of mail through the lab relay against OCI's per-minute limit.

The lab comes up, site.yml deploys the relay with oci_relay_messages_per_minute=N, the emulator
enforces N per minute (455 past it, as OCI does), and M messages are submitted at once on the
instance. Printed: how long the relay took to hand them all over, the most messages the emulator
saw in any 60 s, the 455 replies, and how many TCP connections and TLS handshakes carried them.

    .venv/bin/python benchmarks/pacing.py [--per-minute 10] [--messages 15]

Exit 0 when every message arrived with no 455, no 60 s window over N, and over one connection;
1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "lab"), str(REPO / "tests" / "lab" / "emulator")]

from oci_emulator.client import EmulatorClient  # noqa: E402
from ocilab import layout  # noqa: E402

from ocirelay.pacing import pacing_for  # noqa: E402

OWNER = "bench-pacing"
BIN = Path(sys.executable).parent
PODMAN = REPO / "tests" / "lab" / "bin" / "podman"
SENDER, RECIPIENT = "noreply@example.com", "ops@example.net"
BURST = """
for i in $(seq 1 "$1"); do
  printf 'From: %s\\nTo: %s\\nSubject: pacing %s\\n\\nbenchmark\\n' "$2" "$3" "$i" |
    /usr/sbin/sendmail -i -f "$2" "$3"
done
"""


def run(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "CONTAINERS_CONF": str(REPO / "tests" / "lab" / "containers.conf"),
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=timeout, check=False)


def deploy(per_minute: int) -> None:
    done = run(str(BIN / "ansible-playbook"), "-i", "inventories/lab", "playbooks/site.yml",
               "-e", f"ansible_host={layout.INSTANCE.name}",
               "-e", f"oci_relay_messages_per_minute={per_minute}")
    if done.returncode != 0:
        raise SystemExit(f"site.yml failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """The most accepted messages in any `window` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def accepted_times(records: list[dict[str, Any]]) -> list[float]:
    return sorted(datetime.fromisoformat(r["time"]).timestamp() for r in records
                  if r["headers"]["subject"].startswith("pacing "))


def measure(per_minute: int, count: int) -> dict[str, Any]:
    client = EmulatorClient(layout.EMULATOR_STATE_ON_HOST)
    client.reset()
    client.set_limits(per_minute=per_minute)
    delay = pacing_for(per_minute).rate_delay_seconds
    started = time.time()
    submitted = run(str(PODMAN), "exec", layout.INSTANCE.name, "sh", "-c", BURST, "burst",
                    str(count), SENDER, RECIPIENT)
    if submitted.returncode != 0:
        raise SystemExit(f"submitting the burst failed: {submitted.stderr}")
    records = client.wait_for_messages(count, timeout=count * (delay + 5) + 60)
    times = accepted_times(records)
    stats = client.status()["stats"]
    return {
        "per_minute_limit": per_minute,
        "rate_delay_seconds": delay,
        "messages": count,
        "accepted": len(times),
        "drain_seconds": round(times[-1] - started, 1),
        "max_in_any_60s": max_in_window(times),
        "replies_455": sum(n for code, n in stats["replies"].items() if code.startswith("455")),
        "connections": stats["connections"],
        "tls_handshakes": stats["tls_handshakes"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-minute", type=int, default=10)
    parser.add_argument("--messages", type=int, default=15)
    args = parser.parse_args()
    labctl = [sys.executable, str(REPO / "tests" / "lab" / "labctl.py")]
    up = run(*labctl, "up", "--owner", OWNER)
    if up.returncode != 0:
        raise SystemExit(f"lab up failed:\n{up.stdout}{up.stderr}")
    try:
        deploy(args.per_minute)
        result = measure(args.per_minute, args.messages)
    finally:
        run(*labctl, "down", "--owner", OWNER)
    print(json.dumps(result))
    for key, value in result.items():
        print(f"  {key:<20} {value}")
    good = (result["accepted"] == args.messages and result["replies_455"] == 0
            and result["max_in_any_60s"] <= args.per_minute and result["connections"] == 1)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
