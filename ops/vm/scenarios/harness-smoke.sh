# The VM boots Debian's kernel, sees the host's tools, gets writable /tmp and device-mapper.
. "$DMCOW_ROOT/ops/vm/lib.sh"
step "kernel $(uname -r)"
[ "$(uname -r)" = "$KVER" ] || fail "booted $(uname -r), expected $KVER"
touch /tmp/writable || fail "/tmp is not writable"
if touch "$DMCOW_ROOT/.write-probe" 2>/dev/null; then fail "the host root is writable in the guest"; fi
dmsetup targets | grep -q '^linear' || fail "device-mapper has no linear target"
dmsetup targets
