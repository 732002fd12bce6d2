#!/bin/bash
# Builds dm-verity test images with the real tools (mkfs.erofs, veritysetup, openssl, sfdisk) into
# the directory $1, which must exist and be empty. No root, no loop devices. Layout:
#   keys/{trusted-rsa,trusted-ec,untrusted}.{key,crt}
#   signed.raw       GPT: root (erofs) + root-verity + root-verity-sig, signed by trusted-rsa
#   untrusted.raw    the same, signed by untrusted
#   hashonly.raw     GPT: root + root-verity, no signature (root hash = the partition UUIDs)
#   naked.raw        erofs + naked.verity + naked.roothash
#   nakedsig.raw     erofs + nakedsig.verity + nakedsig.roothash + nakedsig.roothash.p7s (trusted-ec)
#   plain.raw        erofs, no verity data
# Every image holds app.service (with the marker APP-UNIT-MARKER) and app.service.d/zz-dir-marker.conf;
# no inline data, so file contents and directories sit in blocks of their own.
set -euo pipefail
OUT=$1
cd "$OUT"
ROOT=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
ROOT_VERITY=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5
ROOT_VERITY_SIG=41092b05-9fc8-4523-994f-2def0408b176

mkdir -p keys t/usr/lib/systemd/system/app.service.d t/etc
printf 'NAME=Verity test\nID=test\nVERSION_ID=1\n' >t/usr/lib/os-release
printf '[Unit]\nDescription=APP-UNIT-MARKER\n\n[Service]\nExecStart=/usr/bin/app\n' >t/usr/lib/systemd/system/app.service
printf '[Service]\nEnvironment=X=1\n' >t/usr/lib/systemd/system/app.service.d/zz-dir-marker.conf
# 600 KiB more: ~150 data blocks, so the hash tree has two levels
head -c 614400 /dev/zero | tr '\0' 'x' >t/usr/lib/filler

key() { # name, rsa|ec
  if [ "$2" = rsa ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "keys/$1.key" -out "keys/$1.crt" -days 3650 -subj "/CN=$1" 2>/dev/null
  else
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "keys/$1.key" -out "keys/$1.crt" -days 3650 -subj "/CN=$1" 2>/dev/null
  fi
}
key trusted-rsa rsa
key trusted-ec ec
key untrusted rsa

pad4k() { local s; s=$(stat -c %s "$1"); truncate -s $(( (s + 4095) / 4096 * 4096 )) "$1"; }
fmt_uuid() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }
# verity DATA HASH → prints the root hash
verity() { veritysetup format --data-block-size=4096 --hash-block-size=4096 "$1" "$2" | awk '/^Root hash:/ { print $3 }'; }
sign() { # roothash key out.p7s
  printf '%s' "$1" >rh.txt
  openssl cms -sign -noattr -binary -in rh.txt -inkey "keys/$2.key" -signer "keys/$2.crt" -outform DER -out "$3"
}

mkfs.erofs --quiet --all-root -Enoinline_data data.erofs t >/dev/null
pad4k data.erofs

gpt() { # out, with-signature-by (key name or "")
  local out=$1 by=$2
  cp data.erofs d.img
  : >h.img
  local rh; rh=$(verity d.img h.img)
  pad4k h.img
  local parts=("$ROOT|root-x86-64|d.img|$(fmt_uuid "${rh:0:32}")" "$ROOT_VERITY|root-x86-64-verity|h.img|$(fmt_uuid "${rh:32:32}")")
  if [ -n "$by" ]; then
    sign "$rh" "$by" s.p7s
    printf '{"rootHash":"%s","signature":"%s"}' "$rh" "$(base64 -w0 s.p7s)" >s.json
    truncate -s 16K s.json
    parts+=("$ROOT_VERITY_SIG|root-x86-64-verity-sig|s.json|")
  fi
  local script=$'label: gpt\nfirst-lba: 40\n' start=40 p type name file uuid size
  local -a starts=() files=()
  for p in "${parts[@]}"; do
    IFS='|' read -r type name file uuid <<<"$p"
    size=$(( $(stat -c %s "$file") / 512 ))
    script+="start=$start, size=$size, type=$type, name=\"$name\"${uuid:+, uuid=$uuid}"$'\n'
    starts+=("$start"); files+=("$file")
    start=$(( start + size ))
  done
  truncate -s $(( (start + 40) * 512 )) "$out"
  sfdisk -q --no-reread --no-tell-kernel "$out" <<<"$script" >/dev/null
  local i
  for i in "${!files[@]}"; do dd if="${files[$i]}" of="$out" bs=512 seek="${starts[$i]}" conv=notrunc status=none; done
  rm -f d.img h.img s.p7s s.json
}
gpt signed.raw trusted-rsa
gpt untrusted.raw untrusted
gpt hashonly.raw ""

cp data.erofs naked.raw
verity naked.raw naked.verity >naked.roothash
cp data.erofs nakedsig.raw
rh=$(verity nakedsig.raw nakedsig.verity)
printf '%s\n' "$rh" >nakedsig.roothash
sign "$rh" trusted-ec nakedsig.roothash.p7s
cp data.erofs plain.raw
rm -rf t rh.txt data.erofs
