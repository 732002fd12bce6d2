#!/bin/bash
# Writes the input trees of the golden generator tests (test/golden/NN-*/input). Run once to
# (re)create them; the trees are committed, so tests never run this. Each input is a root file
# system slice: the attach list(s), the images under it, host units where a case needs them.
set -euo pipefail
cd "$(dirname "$0")"

# image DIR ID [extra os-release lines]: a directory image with os-release.
image() {
  local dir=$1 id=$2; shift 2
  mkdir -p "$dir/usr/lib/systemd/system" "$dir/etc"
  printf 'ID=%s\nVERSION_ID=12\nPRETTY_NAME="Test %s"\n' "$id" "$id" > "$dir/usr/lib/os-release"
  for l in "$@"; do echo "$l" >> "$dir/usr/lib/os-release"; done
  ln -sfn ../usr/lib/os-release "$dir/etc/os-release"
  : > "$dir/etc/machine-id"; : > "$dir/etc/resolv.conf"
}
# service DIR NAME [extra lines…]: a service that sleeps inside the image.
service() {
  local dir=$1 name=$2; shift 2
  printf '[Unit]\nDescription=%s\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n' "$name" > "$dir/usr/lib/systemd/system/$name"
  for l in "$@"; do echo "$l" >> "$dir/usr/lib/systemd/system/$name"; done
}
ext() {
  local dir=$1 name=$2; shift 2
  mkdir -p "$dir/usr/lib/extension-release.d" "$dir/usr/lib/systemd/system"
  printf 'ID=debian\nVERSION_ID=12\n' > "$dir/usr/lib/extension-release.d/extension-release.$name"
  for l in "$@"; do echo "$l" >> "$dir/usr/lib/extension-release.d/extension-release.$name"; done
}
list() { mkdir -p "$(dirname "$1")"; cat > "$1"; }

rm -rf */input

c=01-one-service/input; P=$c/var/lib/portables
image $P/foo_1 debian; service $P/foo_1 foo.service
list $c/etc/portable-attach.conf <<'L'
# One directory image, nothing else.
[foo]
Image=/var/lib/portables/foo_1
L

c=02-unit-types/input; P=$c/usr/lib/portables
image $P/app_2.1 debian
service $P/app_2.1 app.service
service $P/app_2.1 app@.service
service $P/app_2.1 app-other.service
service $P/app_2.1 apple.service   # not matched: prefix "app" must be followed by - . @ or the end
printf '[Socket]\nListenStream=/run/app.sock\n' > $P/app_2.1/usr/lib/systemd/system/app.socket
printf '[Timer]\nOnCalendar=daily\n' > $P/app_2.1/usr/lib/systemd/system/app.timer
printf '[Mount]\nWhat=tmpfs\nWhere=/app\n' > $P/app_2.1/usr/lib/systemd/system/app.mount  # never copied: not a portable unit type
mkdir -p $P/app_2.1/etc/systemd/system
printf '[Service]\nExecStart=/usr/bin/etc-wins\n' > $P/app_2.1/etc/systemd/system/app-other.service  # /etc beats /usr/lib inside the image
list $c/etc/portable-attach.conf <<'L'
[app]
Image=/usr/lib/portables/app_2.1
L

c=03-extensions/input; P=$c/var/lib/portables
image $P/base_1 debian; service $P/base_1 svc.service
ext $P/svc-tools svc-tools; service $P/svc-tools svc-tools.service
ext $P/svc-debug svc-debug 'SYSEXT_SCOPE=portable'
service $P/svc-debug svc-debug.service; service $P/svc-debug svc.service   # loses to the root's svc.service
list $c/etc/portable-attach.conf <<'L'
[svc]
Image=/var/lib/portables/base_1
Extensions=/var/lib/portables/svc-tools /var/lib/portables/svc-debug   ; bottom first
Prefixes=svc
L

c=04-portable-prefixes/input; P=$c/var/lib/portables
image $P/web_1 debian 'PORTABLE_PREFIXES=web-frontend'; service $P/web_1 web.service; service $P/web_1 web-frontend.service
list $c/etc/portable-attach.conf <<'L'
# The image allows only the prefix "web-frontend"; the derived prefix "web" is refused.
[web]
Image=/var/lib/portables/web_1

[web-frontend]
Image=/var/lib/portables/web_1
Prefixes=web-frontend
L

c=05-enable/input; P=$c/var/lib/portables
image $P/db_3 debian
service $P/db_3 db.service '' '[Install]' 'WantedBy=multi-user.target' 'Alias=database.service' 'Also=db-backup.timer'
service $P/db_3 db-worker@.service '' '[Install]' 'WantedBy=multi-user.target' 'DefaultInstance=main'
service $P/db_3 db-backup.service
printf '[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\nRequiredBy=db.service\n' > $P/db_3/usr/lib/systemd/system/db-backup.timer
list $c/etc/portable-attach.conf <<'L'
[db]
Image=/var/lib/portables/db_3
Enable=yes
L

c=06-host-conflict/input; P=$c/var/lib/portables
image $P/cron_1 debian; service $P/cron_1 cron.service; service $P/cron_1 cron-helper.service
image $P/ntp_1 debian; service $P/ntp_1 ntp.service
mkdir -p $c/etc/systemd/system $c/usr/lib/systemd/system
printf '[Service]\nExecStart=/usr/sbin/cron\n' > $c/usr/lib/systemd/system/cron.service
printf '[Service]\nExecStart=/usr/sbin/ntpd\n' > $c/etc/systemd/system/ntp.service
list $c/etc/portable-attach.conf <<'L'
[cron]
Image=/var/lib/portables/cron_1

[ntp]
Image=/var/lib/portables/ntp_1
Force=yes
L

c=07-versions/input
image $c/usr/lib/portables/tool_1.2 debian; service $c/usr/lib/portables/tool_1.2 tool.service
image $c/var/lib/portables/tool_1.10 debian; service $c/var/lib/portables/tool_1.10 tool.service
mkdir -p $c/etc/portables/tool.v
image $c/etc/portables/tool.v/tool_1.9 debian; service $c/etc/portables/tool.v/tool_1.9 tool.service
list $c/etc/portable-attach.conf <<'L'
# tool_1.2, tool.v/tool_1.9 and tool_1.10 are on disk: 1.10 is the newest.
[tool]
Image=tool
L

c=08-vendor-mask/input; P=$c/usr/lib/portables
for n in alpha beta gamma; do image $P/$n debian; service $P/$n $n.service; done
list $c/usr/lib/portable-attach.d/10-vendor.conf <<'L'
[alpha]
Image=alpha
Enable=yes

[beta]
Image=beta
L
list $c/usr/lib/portable-attach.d/20-extra.conf <<'L'
[gamma]
Image=gamma
L
list $c/etc/portable-attach.conf <<'L'
# The admin masks the vendor's alpha; beta is replaced whole (Enable= is not inherited).
[alpha]
Attach=no

[beta]
Image=beta
Profile=strict
L
mkdir -p $c/etc/portable-attach.d; ln -s /dev/null $c/etc/portable-attach.d/20-extra.conf

c=09-symlink-escape/input; P=$c/var/lib/portables
image $P/evil_1 debian; service $P/evil_1 evil.service
ln -s /etc/shadow $P/evil_1/usr/lib/systemd/system/evil-shadow.service
ln -s ../../../../../../../../etc/shadow $P/evil_1/usr/lib/systemd/system/evil-dotdot.service
ln -s /usr/lib/systemd/system/evil.service $P/evil_1/usr/lib/systemd/system/evil-alias.service
ln -s evil-loop.service $P/evil_1/usr/lib/systemd/system/evil-loop.service
mkdir -p $c/etc; printf 'root:HOST-SECRET:19000:0:99999:7:::\n' > $c/etc/shadow
printf '[Service]\nExecStart=/usr/bin/from-the-host\n' > $c/etc/host-unit.service
ln -s /etc/host-unit.service $P/evil_1/usr/lib/systemd/system/evil-host.service
list $c/etc/portable-attach.conf <<'L'
[evil]
Image=/var/lib/portables/evil_1
L

c=10-odd-paths/input
image "$c/srv/my images/100%_1" debian; service "$c/srv/my images/100%_1" odd-pct.service
mkdir -p "$c/srv/ext:colon"; ext "$c/srv/ext:colon" ext:colon; service "$c/srv/ext:colon" odd-x.service
list $c/etc/portable-attach.conf <<'L'
# A space and a % in the image path: escaped, not broken.
[odd]
Image=/srv/my images/100%_1
Prefixes=odd-pct

# A ':' cannot be written into ExtensionDirectories= safely: refused with a clear error.
[colon]
Image=/srv/my images/100%_1
Prefixes=odd-x
Extensions=/srv/ext:colon
L

c=11-broken-entries/input; P=$c/var/lib/portables
image $P/good_1 debian; service $P/good_1 good.service
image $P/noid_1 debian; sed -i '/^ID=/d' $P/noid_1/usr/lib/os-release; service $P/noid_1 noid.service
mkdir -p $P/norelease_1/usr/lib/systemd/system; service $P/norelease_1 norelease.service
image $P/nounits_1 debian
list $c/etc/portable-attach.conf <<'L'
[good]
Image=/var/lib/portables/good_1
Color=blue

[missing]
Image=/var/lib/portables/missing_1

[badbool]
Image=/var/lib/portables/good_1
Enable=perhaps

[relative]
Image=var/lib/portables/good_1

[noid]
Image=/var/lib/portables/noid_1

[norelease]
Image=/var/lib/portables/norelease_1

[nounits]
Image=/var/lib/portables/nounits_1

[twice]
Image=/var/lib/portables/good_1

[twice]
Image=/var/lib/portables/good_1

[dup-unit]
Image=/var/lib/portables/good_1
this line is not an assignment
L
mkdir -p $c/run/portable-attach; : > $c/run/portable-attach/late-pass-done

c=12-deferred/input
image $c/usr/lib/portables/early_1 debian; service $c/usr/lib/portables/early_1 early.service
list $c/etc/portable-attach.conf <<'L'
# /var is not mounted yet: the entry is deferred to the late pass, the other attaches now.
[late]
Image=/var/lib/portables/late_1.raw
Enable=yes

[early]
Image=early
L

c=20-instances/input; P=$c/var/lib/portables
# Template instances enabled one by one (EnableUnits=), as systemctl enable app@a.service would:
# instances linked by WantedBy=/RequiredBy= with Also= (UpheldBy= is in test/plan: 252's verify
# rejects it), a template by its DefaultInstance=, a name the entry does not provide (a warning).
# Enable= stays off, so app-other.service is attached but not enabled.
image $P/app_1 debian
service $P/app_1 app@.service '' '[Install]' 'WantedBy=multi-user.target' 'RequiredBy=app.target' 'Also=app-helper.service'
service $P/app_1 app-def@.service '' '[Install]' 'WantedBy=multi-user.target' 'DefaultInstance=main'
service $P/app_1 app-helper.service '' '[Install]' 'WantedBy=timers.target'
service $P/app_1 app-other.service '' '[Install]' 'WantedBy=multi-user.target'
printf '[Unit]\nDescription=app\n' > $P/app_1/usr/lib/systemd/system/app.target
list $c/etc/portable-attach.conf <<'L'
[app]
Image=/var/lib/portables/app_1
EnableUnits=app@a.service app@b-c.service app-def@.service nobody@x.service
L

# The same images under newer systemd: what their portablectl writes differs (PORTABLE_*_NAME_AND_VERSION
# log fields and no os-release bind since 254, CONFEXT_ fields since 255, extensions on every service since 260).
for v in 257 262; do
  case $v in 257) c=18-systemd-257/input;; 262) c=19-systemd-262/input;; esac
  P=$c/var/lib/portables
  image $P/base_1 debian 'IMAGE_ID=base-os' 'IMAGE_VERSION=1.2'; service $P/base_1 svc.service
  ext $P/svc-tools svc-tools 'SYSEXT_ID=tools' 'SYSEXT_VERSION_ID=3' 'CONFEXT_ID=tools-conf'
  service $P/svc-tools svc-tools.service
  image $P/single_2 debian; service $P/single_2 single.service
  list $c/etc/portable-attach.conf <<'L'
[svc]
Image=/var/lib/portables/base_1
Extensions=/var/lib/portables/svc-tools
Prefixes=svc

[single]
Image=single

[foo]
Image=/var/lib/portables/foo_1.raw
Extensions=/var/lib/extensions.portable/foo.raw
Force=yes
L
  printf '/var/lib/portables/foo_1.raw squashfs-xz.raw\n/var/lib/extensions.portable/foo.raw erofs-lz4.raw\n' > "${c%/input}/images"
  mkdir -p $c/usr/lib/x86_64-linux-gnu/systemd; : > $c/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-$v.so
done

# Every other tree states its systemd the same way: 252, the version these cases were recorded on.
for c in */input; do
  [ -n "$(find $c/usr/lib -path '*/systemd/libsystemd-shared-*' 2>/dev/null)" ] ||
    { mkdir -p $c/usr/lib/systemd; : > $c/usr/lib/systemd/libsystemd-shared-252.so; }
done
