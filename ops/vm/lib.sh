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

# dmcowd_default_java_opts: the JVM options the dmcowd launcher uses when DMCOWD_JAVA_OPTS is unset
# (read from the launcher itself), with C1 only under software emulation: twice in one benchmark
# run a JVM with C2 died of SIGSEGV in C1 code there (code that C2 replaces is patched while other
# vCPUs may run it, which TCG does not keep coherent).
dmcowd_default_java_opts() {
	opts=$(sed -n 's/.*DMCOWD_JAVA_OPTS:-\([^}]*\)}.*/\1/p' "$DMCOW_ROOT/target/dmcow/bin/dmcowd")
	[ -n "$opts" ] || fail "no default JVM options in $DMCOW_ROOT/target/dmcow/bin/dmcowd"
	if grep -q "^model name.*QEMU TCG" /proc/cpuinfo; then
		opts="$opts -XX:TieredStopAtLevel=1"
	fi
	echo "$opts"
}
