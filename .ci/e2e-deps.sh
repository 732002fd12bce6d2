#!/bin/bash
# Debian packages the end-to-end suite (test/e2e, `npm run test:e2e`) needs on the host. Run as root;
# does nothing for packages already installed. Without root it only says what is missing.
set -euo pipefail
# debian-archive-keyring: mmdebstrap verifies bookworm, trixie and sid (the three guests) with it.
pkgs=(mmdebstrap debian-archive-keyring systemd-container squashfs-tools erofs-utils fdisk e2fsprogs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "e2e-deps: not root, not installing: ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
