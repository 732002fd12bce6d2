# Helpers for the guest-side check scripts (sourced by /usr/lib/e2e/check.sh).
# Every check appends one PASS/FAIL line to /run/out/results; the host fails the scenario on any
# FAIL, on no PASS, or on a missing /run/out/done.
RESULTS=/run/out/results
: >"$RESULTS"
pass() { echo "PASS $*" >>"$RESULTS"; echo "PASS $*"; }
fail() { echo "FAIL $*" >>"$RESULTS"; echo "FAIL $*"; }
# check DESCRIPTION COMMAND...: passes when COMMAND exits 0
check() { local d=$1; shift; local o; if o=$("$@" 2>&1); then pass "$d"; else fail "$d: $(echo "$o" | tail -n 5 | tr '\n' ' ')"; fi; }
# expect DESCRIPTION ACTUAL EXPECTED
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi; }
# expect_match DESCRIPTION ACTUAL EXTENDED-REGEX
expect_match() { if printf '%s' "$2" | grep -Eq -- "$3"; then pass "$1"; else fail "$1: '$2' does not match /$3/"; fi; }
prop() { systemctl show -P "$2" "$1" 2>&1; }
# wait_state UNIT STATE [SECONDS]: wait until the unit's ActiveState is STATE (or it failed)
wait_state() {
  local u=$1 want=$2 n=$(( ${3:-15} * 10 )) s idle=0
  while [ $n -gt 0 ]; do
    s=$(systemctl show -P ActiveState "$u")
    [ "$s" = "$want" ] && return 0
    # inactive with no job anywhere for 3 s: nothing is going to start it
    if [ "$s" = inactive ] && [ "$want" = active ] && [ -z "$(systemctl list-jobs --no-legend 2>/dev/null | grep -v e2e-check)" ]; then
      idle=$((idle+1)); [ $idle -ge 30 ] && break
    else idle=0; fi
    [ "$s" = failed ] && [ "$want" != failed ] && break
    [ "$(systemctl show -P LoadState "$u")" = not-found ] && [ "$want" = active ] && break
    sleep 0.1; n=$((n-1))
  done
  echo "$u is $(systemctl show -P ActiveState "$u")/$(systemctl show -P SubState "$u") (Result=$(systemctl show -P Result "$u")), wanted $want"
  return 1
}
# wait_log UNIT REGEX [SECONDS]: wait until the unit's journal has a line matching REGEX; print it
wait_log() {
  local u=$1 re=$2 n=$(( ${3:-10} * 10 )) l idle=0
  while [ $n -gt 0 ]; do
    l=$(journalctl -q -b -u "$u" -o cat --no-pager 2>/dev/null | grep -E -- "$re" | tail -n 1)
    [ -n "$l" ] && { echo "$l"; return 0; }
    case $(systemctl show -P ActiveState "$u") in
      inactive|failed) idle=$((idle+1)); [ $idle -ge 20 ] && break ;;
      *) idle=0 ;;
    esac
    sleep 0.1; n=$((n-1))
  done
  return 1
}
system_state() { timeout 20 systemctl is-system-running --wait 2>/dev/null; }
finish() {
  systemctl --no-pager list-units --all >/run/out/units.txt 2>&1
  systemctl --no-pager --failed >/run/out/failed.txt 2>&1
  journalctl -b --no-pager -o short-monotonic >/run/out/journal.txt 2>&1
  echo done >/run/out/done
}
trap finish EXIT
# wait_inv_log INVOCATION_ID REGEX [SECONDS]: like wait_log, for one run of a unit
wait_inv_log() {
  local inv=$1 re=$2 n=$(( ${3:-10} * 10 )) l
  while [ $n -gt 0 ]; do
    l=$(journalctl -q -b _SYSTEMD_INVOCATION_ID="$inv" -o cat --no-pager 2>/dev/null | grep -E -- "$re" | tail -n 1)
    [ -n "$l" ] && { echo "$l"; return 0; }
    sleep 0.1; n=$((n-1))
  done
  return 1
}
