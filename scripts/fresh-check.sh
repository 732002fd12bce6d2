#!/bin/bash
# The README's two commands, word for word, in a fresh clone inside a fresh Debian container as root
# with only Node and npm: what a new user runs first. Needs root, mmdebstrap and systemd-nspawn.
#
#   scripts/fresh-check.sh [bookworm|trixie]      (default bookworm)
#
# The container is minbase Debian plus this machine's node binary and npm (nothing else: no git, no
# image tools, no CA bundle); it shares the host's network, and npm gets the host's CA bundle through
# NODE_EXTRA_CA_CERTS (the registry may sit behind a TLS-inspecting proxy). The clone is of the
# committed HEAD: uncommitted changes are not in it. No -b: the commands run as a plain process (no
# systemd, no loop devices), so tests that need those skip with their reason. The rootfs tarball is
# cached in /var/cache/portable-attach-fresh; each run unpacks a new copy and removes it afterwards.
# Log: /var/cache/portable-attach-fresh/<suite>.log. Exit status: that of the two commands, or 1
# if a test was skipped without saying why.
set -euo pipefail
SUITE=${1:-bookworm}
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=/var/cache/portable-attach-fresh
TAR=$CACHE/$SUITE-minbase.tar
LOG=$CACHE/$SUITE.log
# The Debian mirrors this machine's own apt uses, as the e2e guests are built from.
read -r MIRROR SECURITY < <(cd "$REPO" && node --input-type=module -e \
  'import { hostMirrors } from "./test/e2e/lib/guests.mjs"; const m = hostMirrors(); console.log(m.debian, m.security);')
NODE=$(readlink -f "$(command -v node)")
NPM=/usr/lib/node_modules/npm
CA=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}

[ "$(id -u)" = 0 ] || { echo "fresh-check: run as root" >&2; exit 1; }
for t in mmdebstrap systemd-nspawn git; do
  command -v "$t" >/dev/null || { echo "fresh-check: $t is missing (apt-get install mmdebstrap systemd-container git)" >&2; exit 1; }
done
[ -d "$NPM" ] || { echo "fresh-check: npm is not in $NPM" >&2; exit 1; }

mkdir -p "$CACHE"
if [ ! -s "$TAR" ]; then
  case $SUITE in
    bookworm) SOURCES=("deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main") ;;
    *) SOURCES=("deb $MIRROR $SUITE main") ;;
  esac
  echo "fresh-check: building the $SUITE minbase rootfs in $TAR"
  # Other builds of guests on this machine take the same lock.
  flock /tmp/pa-e2e.lock mmdebstrap --quiet --variant=minbase --format=tar "$SUITE" "$TAR.tmp" "${SOURCES[@]}"
  mv "$TAR.tmp" "$TAR"
fi

DIR=$(mktemp -d /var/tmp/pa-fresh.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
tar -C "$DIR" --numeric-owner -xpf "$TAR"
install -m 0755 "$NODE" "$DIR/usr/bin/node"
mkdir -p "$DIR/usr/lib/node_modules"
cp -a "$NPM" "$DIR/usr/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$DIR/usr/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$DIR/usr/bin/npx"
git clone -q "$REPO" "$DIR/root/portable-attach"
git -C "$DIR/root/portable-attach" checkout -q "$(git -C "$REPO" rev-parse HEAD)"
cp "$CA" "$DIR/root/host-ca.crt"

# The two lines of the README's first sh block, as they stand (comments included).
COMMANDS=$(awk '/^```sh$/ {f = 1; next} f && /^```$/ {exit} f' "$REPO/README.md")
[ "$(printf '%s\n' "$COMMANDS" | wc -l)" = 2 ] || { echo "fresh-check: the README's first block is not two lines" >&2; exit 1; }
printf 'fresh-check: %s, commit %s, node %s\n%s\n' "$SUITE" "$(git -C "$REPO" rev-parse --short HEAD)" "$("$NODE" --version)" "$COMMANDS" | tee "$LOG"

set +e
systemd-nspawn -q -D "$DIR" --register=no --keep-unit --console=pipe --chdir=/root/portable-attach \
  --setenv=NODE_EXTRA_CA_CERTS=/root/host-ca.crt --setenv=HOME=/root --setenv=CI= \
  /bin/bash -c "set -e -o pipefail; $COMMANDS" 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
set -e
# Every skip must say why (test/helpers/skip-reporter.ts lists them after the summary).
if grep -q "skipped without a reason" "$LOG"; then
  echo "fresh-check: some tests were skipped without a reason" >&2
  [ "$rc" != 0 ] || rc=1
fi
echo "fresh-check: exit status $rc (log: $LOG)"
exit "$rc"
