# Guest-side helpers shared by the qcow2 VM scenarios (sourced, not run: not executable).
# Sets BIN; start_daemon/stop_daemon run dmcowd with /tmp/dmcowd.conf and wait on its log.
. "$DMCOW_ROOT/ops/vm/lib.sh"
BIN=$DMCOW_ROOT/target/dmcow/bin
[ -x "$BIN/dmcowd" ] || fail "run 'mvn -q -B package -DskipTests' first: no $BIN/dmcowd"
# A small heap starts faster under software emulation; the defaults preallocate 256 MiB.
export DMCOWD_JAVA_OPTS="-Xms96m -Xmx96m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
mkdir -p /run/dmcow
DPID=

# qcow2_config BASE COW: one volume vm1, qcow2.
qcow2_config() {
	cat >/tmp/dmcowd.conf <<CONF
dmcow {
  commit-interval = 1s
  admin-socket = /run/dmcow/dmcowd.sock
  reload { max-mappings = 256, max-delay = 2s }
  volumes.vm1 { base = "$1", cow = "$2", format = qcow2, chunk-size = 64k }
}
CONF
}

# Each JVM start costs tens of seconds under emulation: readiness is read from the log.
start_daemon() {
	: >/tmp/dmcowd.log
	"$BIN/dmcowd" --config /tmp/dmcowd.conf >>/tmp/dmcowd.log 2>&1 &
	DPID=$!
	deadline=$(($(date +%s) + 240))
	until grep -q "volume vm1: serving" /tmp/dmcowd.log; do
		kill -0 "$DPID" 2>/dev/null || fail "dmcowd exited: $(tail -20 /tmp/dmcowd.log)"
		[ "$(date +%s)" -lt $deadline ] || fail "vm1 not serving after 240 s: $(tail -20 /tmp/dmcowd.log)"
		sleep 0.2
	done
	step "dmcowd serving vm1 after $(($(date +%s) - deadline + 240)) s"
	mapper_nodes
	[ -b /dev/mapper/vm1 ] || fail "no /dev/mapper/vm1"
}

stop_daemon() {
	kill -TERM "$DPID"
	rc=0
	t0=$(date +%s)
	wait "$DPID" || rc=$?
	step "dmcowd stopped after $(($(date +%s) - t0)) s"
	[ $rc = 0 ] || fail "dmcowd exited $rc after SIGTERM: $(tail -20 /tmp/dmcowd.log)"
	grep -q "stopped cleanly" /tmp/dmcowd.log || fail "no clean stop in the log: $(tail -20 /tmp/dmcowd.log)"
}

dev_sum() {
	dd if=/dev/mapper/vm1 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1
}

# teardown FILE...: remove vm1 and detach the loop devices over FILEs, so their filesystem unmounts.
teardown() {
	dmsetup remove vm1 || fail "dmsetup remove vm1 failed"
	for f in "$@"; do
		losetup -j "$f" | cut -d: -f1 | while read -r l; do losetup -d "$l"; done
	done
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
