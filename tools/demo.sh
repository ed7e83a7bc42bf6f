#!/usr/bin/env bash
# The demo: the relay description rendered and checked by real Postfix, its senders' DNS checked
# against a local Knot server, then deployed with
# ansible-playbook to the lab's OCI-shaped instance, a cron-style message sent through it, and
# what the OCI Email Delivery emulator recorded of it. The lab is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_FORCE_COLOR=0
out="$PWD/out/demo"
rm -rf "$out"

step() { printf '\n== %s\n' "$*"; }

step "1. Validate and render examples/relay.yml; real Postfix checks the result"
ocirelay validate examples/relay.yml
ocirelay render examples/relay.yml --out "$out" --postfix-version "$(postconf -dh mail_version)" >/dev/null
postmap -c "$out" "hash:$out/oci_sasl_passwd"
postfix -c "$out" check
postconf -c "$out" -P | grep -E '^oci/unix/smtp_(sasl_mechanism_filter|sasl_(tls_)?security_options|tls_security_level|tls_mandatory_protocols) '

step "2. Bad input is refused with the key, the reason and the fix"
printf 'oci_relay_region: us-ashbrun-1\noci_relay_port: 25\noci_relay_tls_level: may\n' > "$out/bad.yml"
ocirelay validate "$out/bad.yml" 2>&1 | grep -E '^error' || true

step "3. The senders' DNS, checked against a real Knot server on loopback; suggestions applied"
python tools/demo_dns.py examples/relay.yml

step "4. Lab up: an OCI-shaped instance (tcp/25 blocked, no route out) and the OCI emulator"
python tests/lab/labctl.py up --owner demo
trap 'step "7. Lab down"; python tests/lab/labctl.py down --owner demo' EXIT

step "5. ansible-playbook playbooks/site.yml against the lab instance (inventories/lab)"
ansible-playbook -i inventories/lab playbooks/site.yml

step "6. Send cron-style mail (root, no From header) through the relay; what OCI recorded"
ansible-playbook -i inventories/lab playbooks/send-test.yml -e send_test_to=ops@example.net
python tools/show_emulator_record.py
