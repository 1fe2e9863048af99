# Helpers for the qcow2 guest scripts (qcow2-*.guest.sh): one qcow2 volume, vm1, served by dmcowd
# through the e2e helpers (start_daemon vm1, stop_daemon). Not executable: sourced.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"

# qcow2_config BASE COW: one volume vm1, qcow2.
qcow2_config() {
	cat >"$DCONF" <<CONF
dmcow {
  commit-interval = 1s
  admin-socket = /run/dmcow/dmcowd.sock
  reload { max-mappings = 256, max-delay = 2s }
  volumes.vm1 { base = "$1", cow = "$2", format = qcow2, chunk-size = 64k }
}
CONF
}

dev_sum() {
	dd if=/dev/mapper/vm1 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1
}

# teardown FILE...: remove vm1 and detach the loop devices over FILEs, so their filesystem unmounts.
teardown() {
	dmsetup remove vm1 || fail "dmsetup remove vm1 failed"
	detach_loops "$@"
}

# final_checks BASE OVERLAY DUMP: dmcowctl check, qemu-img check (exit 0) and qemu-img compare of
# OVERLAY against DUMP (exit 0). Left to the host when the dump is on a disk (ops/vm/suites/qcow2-host),
# which runs them much faster than the emulated guest.
final_checks() {
	if [ "$3" = /dev/vdb ]; then
		step "dmcowctl check, qemu-img check and compare: on the host"
		return
	fi
	"$BIN/dmcowctl" check "$2" --base "$1" || fail "dmcowctl check found problems"
	qemu-img check -f qcow2 "$2" >/tmp/check.log 2>&1 || fail "qemu-img check $2 exit $?: $(cat /tmp/check.log)"
	qemu-img compare -f qcow2 -F raw "$2" "$3" >/tmp/compare.log 2>&1 ||
		fail "qemu-img compare $2 $3 exit $?: $(cat /tmp/compare.log)"
	step "qemu-img: $(head -c 300 /tmp/check.log | tr '\n' ' ') / $(tr '\n' ' ' </tmp/compare.log)"
}
