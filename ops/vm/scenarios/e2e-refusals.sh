# Never touch a base, never share a CoW space, with the real tools: while dmcowd serves, qemu-io can write neither the qcow2 overlay nor the base (QEMU's own lock errors) and qemu-img info -U still reads the overlay; dmcowctl format refuses, even with --force, the served space, its loop device, the base by its loop device, through a dm-cow volume and by name, leaving every byte as it was; at SIGHUP, volumes on a served CoW space, on the base, on one of dmcowd's own devices, with a misspelt key, or on an overlay QEMU holds are refused naming the cause while the served volumes keep taking writes; the QEMU-held one serves once QEMU lets go and the config is reloaded; after the stop QEMU writes the overlay.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

BASE=/tmp/base.img
head -c 16777216 /dev/urandom >"$BASE"
head -c 16777216 /dev/urandom >/tmp/other.img
base_sum=$(sum "$BASE")
qemu-img create -q -f qcow2 -o cluster_size=64k -b "$BASE" -F raw /tmp/v7.cow || fail "qemu-img create v7"
format_spaces v1:native:24M v2:qcow2
write_conf v1:native v2:qcow2
start_daemon v1 v2

# attempt LOG COMMAND...: run COMMAND, its output and "exit STATUS" into LOG
attempt() {
	log=$1
	shift
	rc=0
	"$@" >"$log" 2>&1 || rc=$?
	echo "exit $rc" >>"$log"
}

# expect_refused LOG PATTERN: the command whose output is in LOG failed, saying PATTERN
expect_refused() {
	grep -q "^exit [1-9]" "$1" || fail "not refused: $(cat "$1")"
	grep -qF -- "$2" "$1" || fail "refused without \"$2\": $(cat "$1")"
}

step "QEMU sees the served overlay and the base are in use"
attempt /tmp/qio.log qemu-io -c "write 0 4k" /tmp/v2.cow
expect_refused /tmp/qio.log 'Failed to get "write" lock'
attempt /tmp/qio-base.log qemu-io -f raw -c "write 0 4k" "$BASE"
expect_refused /tmp/qio-base.log 'Failed to get "write" lock'
attempt /tmp/info.log qemu-img info /tmp/v2.cow
expect_refused /tmp/info.log 'Failed to get shared "write" lock'
qemu-img info -U /tmp/v2.cow >/tmp/info-u.log 2>&1 || fail "qemu-img info -U: $(cat /tmp/info-u.log)"
grep -q "backing file: $BASE" /tmp/info-u.log || fail "qemu-img info -U: $(cat /tmp/info-u.log)"
sed 's/^/  /' /tmp/qio.log

step "dmcowctl format refuses the served space, its loop device and the base however named, even with --force"
base_loop=$(losetup -j "$BASE" | cut -d: -f1 | head -n 1)
cow_loop=$(losetup -j /tmp/v1.cow | cut -d: -f1 | head -n 1)
[ -b "$base_loop" ] && [ -b "$cow_loop" ] || fail "no loop devices: base $base_loop, cow $cow_loop"
ln -sf "$BASE" /tmp/golden-link.img
v1_sum=$(sum /tmp/v1.cow)
v2_sum=$(sum /tmp/v2.cow)
refusing=
refuse() { # refuse NAME BASE TARGET: dmcowctl format --force, output and exit status in /tmp/refuse-NAME.log
	attempt "/tmp/refuse-$1.log" dmcowctl format --base "$2" --cow "$3" --force &
	refusing="$refusing $!"
}
refuse served "$BASE" /tmp/v1.cow
refuse served-qcow2 "$BASE" /tmp/v2.cow
refuse base-loop "$BASE" "$base_loop"
refuse volume "$BASE" /dev/mapper/v1
refuse symlink "$BASE" /tmp/golden-link.img
refuse cow-loop /tmp/other.img "$cow_loop"
for p in $refusing; do wait "$p"; done # not a bare wait: dmcowd is a child too
expect_refused /tmp/refuse-served.log "/tmp/v1.cow: in use: failed to get \"write\" lock (held by pid $DPID dmcowd)"
expect_refused /tmp/refuse-served-qcow2.log "/tmp/v2.cow: in use: failed to get \"write\" lock"
expect_refused /tmp/refuse-base-loop.log "$base_loop: is the base $BASE ($base_loop is a loop device backed by $BASE)"
expect_refused /tmp/refuse-volume.log "/dev/mapper/v1: is the base $BASE (/dev/mapper/v1 is a dm-cow volume over"
expect_refused /tmp/refuse-symlink.log "/tmp/golden-link.img: is the base $BASE (the same file)"
expect_refused /tmp/refuse-cow-loop.log "$cow_loop: in use (held by dm-"
for f in /tmp/refuse-*.log; do sed 's/^/  /' "$f"; done
[ "$(sum /tmp/v1.cow)" = "$v1_sum" ] && [ "$(sum /tmp/v2.cow)" = "$v2_sum" ] || fail "a served space changed"
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"

step "SIGHUP: five bad volumes are refused with their reasons; v7's overlay is held by QEMU"
qemu-io -c "sleep 600000" /tmp/v7.cow >/tmp/qemu-holds.log 2>&1 &
qpid=$!
v7_inode=$(stat -c %i /tmp/v7.cow)
wait_for "grep -q ':$v7_inode ' /proc/locks" 60
ln -sf /tmp/v1.cow /tmp/v3-link.cow
cat "$DCONF" >/tmp/good.conf
{
	cat /tmp/good.conf
	echo "dmcow.volumes.v3 { base = \"$BASE\", cow = /tmp/v3-link.cow }"
	echo "dmcow.volumes.v4 { base = /tmp/other.img, cow = \"$BASE\" }"
	echo "dmcow.volumes.v5 { base = /dev/mapper/v1, cow = /tmp/v5.cow }"
	echo "dmcow.volumes.v6 { base = \"$BASE\", cow = /tmp/v6.cow, chunk-sise = 64k }"
	echo "dmcow.volumes.v7 { base = \"$BASE\", cow = /tmp/v7.cow, format = qcow2 }"
} >"$DCONF"
attempt /tmp/check-config.log "$BIN/dmcowd" --check-config "$DCONF"
# v1 too: it shares its CoW space with v3 (a running volume keeps running)
expect_refused /tmp/check-config.log "5 of 7 volume(s) refused"
kill -HUP "$DPID"
wait_for "grep -q 'volume v7: degraded' '$DLOG.run'" 120
attempt /tmp/status.txt dmcowctl status
cat /tmp/status.txt
for want in "volume v3: cow /tmp/v3-link.cow is also the CoW space of volume v1, /tmp/v1.cow (the same file)" \
	"volume v4: cow $BASE is the base of volume v1, $BASE (the same file); a base is never written" \
	"volume v5: base /dev/mapper/v1 is the device of volume v1, served by this daemon" \
	"volume v6: chunk-sise: unknown key; did you mean chunk-size?" \
	"/tmp/v7.cow: in use: failed to get \"write\" lock (held by pid $qpid qemu-io)"; do
	grep -qF -- "$want" /tmp/status.txt "$DLOG.run" || fail "no \"$want\" in the status or the log"
done
for v in v3 v4 v5 v6 v7; do
	if [ -e "/dev/mapper/$v" ]; then fail "refused volume $v has a device"; fi
done
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"
[ "$(sum /tmp/v1.cow)" = "$v1_sum" ] || fail "v1's space changed before anything was written to v1"

step "the served volumes keep taking writes"
for v in v1 v2; do
	head -c 1048576 /dev/urandom >/tmp/w-$v
	dd if=/tmp/w-$v of=/dev/mapper/$v bs=64k seek=32 oflag=direct conv=fsync,notrunc status=none || fail "write $v"
	dd if=/dev/mapper/$v bs=64k skip=32 count=16 iflag=direct status=none | cmp - /tmp/w-$v || fail "$v reads back wrong"
done

step "QEMU lets go of v7's overlay; the next SIGHUP serves it"
kill "$qpid"
wait "$qpid" 2>/dev/null || true
kill -HUP "$DPID"
wait_for "grep -q 'volume v7: serving' '$DLOG.run'" 300
[ -b /dev/mapper/v7 ] || fail "no /dev/mapper/v7"
stop_daemon

step "dmcowd stopped: QEMU may write the overlay again"
qemu-io -c "write -P 0x5a 8M 4k" /tmp/v2.cow >/tmp/qio-after.log 2>&1 || fail "qemu-io after the stop: $(cat /tmp/qio-after.log)"
qemu-img check /tmp/v2.cow >/tmp/check.log 2>&1 || fail "qemu-img check v2: $(cat /tmp/check.log)"
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"
for v in v1 v2 v7; do
	dmsetup remove $v || fail "dmsetup remove $v"
done
step "every refusal named its cause; nothing refused was touched"
