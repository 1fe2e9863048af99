# Guest side: runs the scenarios given as arguments one after another in this one boot, each as if
# it had a boot of its own (a boot costs 10 to 15 s under emulation; the short kmod scenarios take
# about as long):
#   ops/vm/run --timeout SEC ops/vm/in-one-boot.sh ops/vm/scenarios/kmod-basic.sh ...
# Each runs in its own session under sh -eu; after it, its leftover processes are killed, its
# kernel log is printed, scanned (ops/vm/scan-kernel-log) and cleared (scenarios grep the log for
# their own lines), and its devices, loop devices, mounts and files under /tmp go, and so does the
# dm-cow module, so the next one starts from a fresh boot's state. Exits 1 naming every scenario
# that failed; a scenario after which the module cannot be unloaded stops the run.
. "$DMCOW_ROOT/ops/vm/lib.sh"

# tidy: back to a fresh boot's state (nothing here may fail the run but the unload)
tidy() {
	# the project may live under /tmp, as a mount of its own: its mount and those above it stay
	awk -v root="$DMCOW_ROOT/" '$2 ~ "^/tmp/" && index(root, $2 "/") != 1 { print $2 }' /proc/mounts |
		sort -r | while read -r m; do umount -l "$m"; done
	timeout 60 dmsetup remove_all --force >/dev/null 2>&1 || true
	losetup -D 2>/dev/null || true
	for f in /tmp/* /tmp/.[!.]*; do
		[ -e "$f" ] || continue
		case $DMCOW_ROOT/ in "$f"/*) continue ;; esac
		rm -rf --one-file-system "$f"
	done
	if grep -q '^dm_cow ' /proc/modules; then
		rmmod dm_cow
	fi
}

failed=
for s in "$@"; do
	name=$(basename "$s" .sh)
	echo "dmcow-vm: $name start" >/dev/kmsg
	step "[in one boot] $name"
	start=$(date +%s)
	rc=0
	# without job control a background child is no group leader, so setsid makes its session in
	# place: the session's id is this PID
	setsid sh -eu "$s" </dev/null &
	sid=$!
	wait $sid || rc=$?
	pkill -KILL -s "$sid" 2>/dev/null || true
	dmesg >/tmp/.kernel-log
	dmesg -C
	echo "--- kernel log of $name ---"
	cat /tmp/.kernel-log
	"$DMCOW_ROOT/ops/vm/scan-kernel-log" /tmp/.kernel-log || { [ $rc != 0 ] || rc=1; }
	if ! tidy; then
		echo "FAIL: $name left dm-cow loaded (in use: $(cat /sys/module/dm_cow/refcnt 2>/dev/null)); the rest cannot run"
		failed="$failed $name"
		break
	fi
	if [ $rc = 0 ]; then
		echo "PASS: $name ($(($(date +%s) - start)) s)"
	else
		echo "FAIL: $name (status $rc, $(($(date +%s) - start)) s)"
		failed="$failed $name"
	fi
done
[ -z "$failed" ] || fail "in one boot:$failed"
step "in one boot: all $# passed"
