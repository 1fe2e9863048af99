# Harness self-test for ops/vm/in-one-boot.sh: what leaves-state.sh left is gone.
. "$DMCOW_ROOT/ops/vm/lib.sh"
[ ! -e /tmp/leftover ] || fail "/tmp/leftover is still there"
[ -z "$(losetup -a)" ] || fail "loop devices still attached: $(losetup -a)"
! pgrep -x -f "sleep 1000" >/dev/null || fail "the left process still runs"
! dmesg | grep -q "dmcow-selftest: left behind" || fail "the kernel log still has the last scenario's lines"
step "a fresh state"
