#!/usr/bin/env bash
# Install the Debian packages the tests, the lab and the demo need, when any is missing.
# Postfix is installed unconfigured ("No configuration"): the tests only use its tools.
set -euo pipefail

packages=(postfix libsasl2-modules knot knot-dnsutils podman runc debootstrap nftables uidmap
          slirp4netns fuse-overlayfs openssl ca-certificates python3-venv make)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-host-packages: missing ${missing[*]}; run as root (or with sudo)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "installing: ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
