# Helpers for VM scenarios; source with: . "$DMCOW_ROOT/ops/vm/lib.sh"

# step MSG: a progress line the host prints as it comes.
step() {
	echo "== $*"
}

# fail MSG: stop the scenario with a message naming what went wrong.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# load_dmcow [ARGS]: load the dm-cow module built for this kernel.
load_dmcow() {
	[ -n "${DMCOW_KO:-}" ] && [ -f "$DMCOW_KO" ] || fail "no dm-cow.ko was built for $KVER"
	insmod "$DMCOW_KO" "$@" || fail "insmod $DMCOW_KO failed"
}

# mapper_nodes: create /dev/mapper/NAME nodes (there is no udev in the VM).
mapper_nodes() {
	dmsetup mknodes >/dev/null 2>&1 || true
}
