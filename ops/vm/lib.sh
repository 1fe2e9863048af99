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

# status_field DM_NAME FIELD: a counter from DM_NAME's first cow segment's status line
# (a volume's counters are the same in each of its cow segments).
status_field() {
	status_text_field "$(dmsetup status "$1")" "$2"
}

# status_text_field STATUS FIELD: the same from a `dmsetup status` output already read, for
# several counters of one moment.
status_text_field() {
	printf '%s\n' "$1" | awk -v f="$2" '$3 == "cow" { for (i = 4; i <= NF; i++) if (index($i, f "=") == 1) { print substr($i, length(f) + 2); exit } }'
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
