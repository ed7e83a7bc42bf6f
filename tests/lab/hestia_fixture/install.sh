#!/bin/bash
# ocirelay LAB FIXTURE: make a Debian host with exim4-daemon-heavy look like HestiaCP's mail part,
# as far as the hestia_relay role can tell (see README.md). Run as root from this directory's copy.
#   install.sh FIXTURE_DIR
set -euo pipefail
src=${1:?usage: install.sh FIXTURE_DIR}
HESTIA=/usr/local/hestia

# Lab only (not part of the Hestia shape): podman gives the container no CAP_SYS_PTRACE, so the
# init script's start-stop-daemon cannot read /proc/PID/exe of Exim's daemon (it runs as
# Debian-exim), "stops" nothing, and a restart leaves two daemons. systemd kills the unit's
# processes itself with this drop-in.
install -d -m 0755 /etc/systemd/system/exim4.service.d
printf '[Service]\nKillMode=control-group\n' > /etc/systemd/system/exim4.service.d/ocirelay-lab.conf
systemctl daemon-reload
systemctl stop exim4
if pgrep -x exim4 > /dev/null; then
	echo "an Exim daemon survived systemctl stop exim4: $(pgrep -a -x exim4)" >&2
	exit 1
fi

# Lab only: the lab has no DNS server, and Exim's manualroute (Hestia's relay routers) looks the
# relay up in the DNS first and falls back to /etc/hosts only on "host not found". A DNS "try
# again" counts as "not found" here, so the relay host resolves through /etc/hosts as in the lab.
printf '# ocirelay lab only: no DNS in the lab\ndns_again_means_nonexist = *\n' \
	> /etc/exim4/exim4.conf.localmacros

install -d -m 0755 /etc/hestiacp "$HESTIA/bin" "$HESTIA/func" "$HESTIA/conf" "$HESTIA/log" \
	"$HESTIA/install/deb/exim" "$HESTIA/data/templates/dns"
install -m 0644 "$src/hestiacp.conf" /etc/hestiacp/hestia.conf
install -m 0644 "$src/hestia/conf/hestia.conf" "$HESTIA/conf/hestia.conf"
install -m 0644 "$src/hestia/func/main.sh" "$HESTIA/func/main.sh"
install -m 0755 "$src/hestia/bin/v-add-sys-smtp-relay" "$src/hestia/bin/v-delete-sys-smtp-relay" \
	"$HESTIA/bin/"
# Hestia keeps its stock template and installs it (mode 0640) over Debian's.
install -m 0644 "$src/exim4.conf.template" "$HESTIA/install/deb/exim/exim4.conf.4.95.template"
install -m 0640 -o root -g root "$src/exim4.conf.template" /etc/exim4/exim4.conf.template
install -m 0755 "$src/upgrade.sh" "$HESTIA/install/upgrade-fixture.sh"

# One Hestia mail domain with one mailbox (info@lab.example.org).
install -d -m 0751 -o Debian-exim -g mail /etc/exim4/domains /etc/exim4/domains/lab.example.org
printf 'info:{MD5}lab-fixture-not-a-hash:Debian-exim:mail::/var/mail/hestia:0\n' \
	> /etc/exim4/domains/lab.example.org/passwd
: > /etc/exim4/domains/lab.example.org/aliases
chown Debian-exim:mail /etc/exim4/domains/lab.example.org/passwd \
	/etc/exim4/domains/lab.example.org/aliases
install -d -m 0770 -o Debian-exim -g mail /var/mail/hestia

update-exim4.conf
systemctl start exim4
