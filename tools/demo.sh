#!/usr/bin/env bash
# The demo: render examples/relay.yml and prove real Postfix accepts the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
out="$PWD/out/demo"
rm -rf "$out"

step() { printf '\n== %s\n' "$*"; }

step "Validate the relay description (examples/relay.yml)"
$bin/ocirelay validate examples/relay.yml

step "Render every file of a relay-only Postfix host into $out"
$bin/ocirelay render examples/relay.yml --out "$out" \
    --postfix-version "$(/usr/sbin/postconf -dh mail_version)"

step "Compile the credential map (0600) and check the whole config with real Postfix"
/usr/sbin/postmap -c "$out" "hash:$out/oci_sasl_passwd"
/usr/sbin/postfix -c "$out" check
ls -l "$out"

step "What the OCI transport enforces (postconf -P)"
/usr/sbin/postconf -c "$out" -P | grep '^oci/'

step "Where root's cron mail goes, and as whom (postmap -q)"
for sender in root@relay1.example.net noreply@example.com; do
    printf '  %-28s -> %s\n' "$sender" \
        "$(/usr/sbin/postmap -c "$out" -q "$sender" "regexp:$out/oci_sender_canonical")"
done

step "Bad input is refused with the key, the reason and the fix (nothing written)"
printf 'oci_relay_region: us-ashbrun-1\noci_relay_port: 25\noci_relay_tls_level: may\n' \
    > "$out/bad.yml"
$bin/ocirelay validate "$out/bad.yml" || echo "(exit code $?)"
