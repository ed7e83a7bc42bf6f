#!/usr/bin/env bash
# The relay demo on the lab: an OCI-shaped Debian instance becomes a relay with
# playbooks/site.yml, sends one message like cron would, and the OCI Email Delivery emulator's
# record of it is printed (TLS version, AUTH mechanism, envelope and From). The lab goes down at
# the end, also on failure. Root, podman; `labctl.py up` builds what is missing.
#
#   tools/demo_relay.sh            (OCIRELAY_LAB_NAME=NAME for a lab of its own)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/.venv/bin"
export PATH="$bin:$PATH" CONTAINERS_CONF="$PWD/tests/lab/containers.conf" ANSIBLE_NOCOLOR=1
lab="${OCIRELAY_LAB_NAME:-ocirelay}"
owner="demo-$$"
playbook=("$bin/ansible-playbook" -i inventories/lab -e postfix_relay_update_cache=false
          -e "ansible_host=$lab-instance")

step() { printf '\n== %s\n' "$*"; }
down() { "$bin/python" tests/lab/labctl.py down --owner "$owner" >/dev/null 2>&1 || true; }

step "Bring the lab up: OCI-shaped instance ($lab-instance), emulator, client; tcp/25 blocked"
"$bin/python" tests/lab/labctl.py up --owner "$owner"

log="$(mktemp)"
trap 'down; rm -f "$log"' EXIT

step "ansible-playbook playbooks/site.yml (inventories/lab: the lab's relay description)"
"${playbook[@]}" playbooks/site.yml > "$log" || { cat "$log"; exit 1; }
echo "Preflight from the instance:"
grep -A6 'Preflight | the endpoint accepted' "$log" | grep -E '^ {4}- |^ {6,}[^ -]' || true
grep -E ': ok=[0-9]+ ' "$log"

step "Send one message from the instance the way cron does (as root, no From of its own)"
"${playbook[@]}" playbooks/send-test.yml -e send_test_to=someone@example.net > "$log" \
    || { cat "$log"; exit 1; }
grep -A10 'TASK \[What the endpoint answered\]' "$log" | grep -E '^ {4}- |^ {6,}[^ -]' || true

step "What the emulator (OCI Email Delivery) recorded"
"$bin/python" - <<'EOF'
import json, sys
sys.path[:0] = ["tests/lab", "tests/lab/emulator"]
from ocilab import layout
from oci_emulator.client import EmulatorClient

record = EmulatorClient(layout.EMULATOR_STATE_ON_HOST).wait_for_messages(1, timeout=60)[-1]
print(json.dumps({key: record[key] for key in ("listener", "tls", "auth", "envelope", "headers")},
                 indent=2))
EOF

step "Done: the lab goes down now"
