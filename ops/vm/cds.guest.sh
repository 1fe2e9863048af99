# Guest side of ops/vm/cds: dmcowd, with e2e-lib.sh's JVM options, started with
# -XX:ArchiveClassesAtExit serves a native and a qcow2 volume, takes faults on both and stops
# cleanly (the archive is written at that exit); the archive goes to /dev/vda as a tar stream.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow
BASE=/tmp/base.img
truncate -s 64M "$BASE"
format_spaces n:native q:qcow2
write_conf n:native q:qcow2
export DMCOWD_JAVA_OPTS="$DMCOWD_JAVA_OPTS -XX:ArchiveClassesAtExit=/tmp/dmcowd.jsa" DMCOW_CDS=
start_daemon n q
for v in n q; do
	dd if=/dev/urandom of=/dev/mapper/$v bs=64k count=64 oflag=direct status=none || fail "writing $v"
done
dmcowctl status >/dev/null || fail "dmcowctl status"
stop_daemon
[ -s /tmp/dmcowd.jsa ] || fail "dmcowd wrote no archive at exit: $(tail -5 "$DLOG")"
dmsetup remove n && dmsetup remove q || fail "dmsetup remove"
tar -cf /dev/vda -C /tmp dmcowd.jsa || fail "writing the archive to /dev/vda"
step "archive of $(stat -c %s /tmp/dmcowd.jsa) bytes dumped"
