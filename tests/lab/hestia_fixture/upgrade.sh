#!/bin/bash
# ocirelay LAB FIXTURE: what a Hestia upgrade does to the relay's Exim side, at its worst: the
# stock template is copied over the live one, then Exim is restarted.
set -euo pipefail
cp -f /usr/local/hestia/install/deb/exim/exim4.conf.4.95.template /etc/exim4/exim4.conf.template
chmod 0640 /etc/exim4/exim4.conf.template
update-exim4.conf
systemctl restart exim4
