# Writes queued when the daemon exits wait for the next one, which gets the replay and completes them; with no daemon for detach_timeout seconds they fail with EIO.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE")
for i in 1 2 3 4 5; do head -c 4096 /dev/urandom >/tmp/w$i; done
# put FILE CHUNK: a direct 4 KiB write of FILE at 4 KiB into the 32 KiB CHUNK.
put() { dd if="$1" of=/dev/mapper/c1 bs=4096 count=1 seek=$(($2 * 8 + 1)) oflag=direct status=none; }
# check FILE CHUNK: that block reads back as FILE.
check() {
	dd if=/dev/mapper/c1 bs=4096 count=1 skip=$(($2 * 8 + 1)) iflag=direct status=none | cmp -s - "$1" ||
		fail "chunk $2 does not read back $1"
}

# The first responder never commits and exits when it reads the second fault.
start_responder resp1 --commit never --exit-after-faults 2 --state /tmp/state.json --check-busy
grep -q '^BUSY-CHECK EBUSY' /tmp/resp1.log || fail "a second open of /dev/dm-cow did not get EBUSY"
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes

step "chunk 1 is filled but not committed"
put /tmp/w1 1 || fail "write to chunk 1 failed"
wait_log /tmp/resp1.log '^FILLED vol=1 chunk=1 ' || fail "no FILLED for chunk 1"

step "writes to chunks 2 and 3 are queued; the responder exits holding the first fault"
put /tmp/w2 2 &
w2=$!
put /tmp/w3 3 &
w3=$!
wait_gone "$RESP_PID" 30 || fail "responder 1 did not exit"
sleep 3
kill -0 $w2 2>/dev/null || fail "the write to chunk 2 ended while no daemon was attached"
kill -0 $w3 2>/dev/null || fail "the write to chunk 3 ended while no daemon was attached"
dmsetup status c1 | grep -q ' detached ' || fail "status does not say detached: $(dmsetup status c1)"
[ "$(status_field c1 faults_pending)" = 2 ] || fail "expected 2 pending faults: $(dmsetup status c1)"
[ "$(status_field c1 filled_uncommitted)" = 1 ] || fail "expected 1 uncommitted chunk: $(dmsetup status c1)"

step "a new responder gets the replay and the writes complete"
start_responder resp2 --commit flush --state /tmp/state.json
wait $w2 || fail "the write to chunk 2 failed"
wait $w3 || fail "the write to chunk 3 failed"
step "replay: $(grep -v '^->' /tmp/resp2.log | grep -v '^HELLO' | head -6 | tr '\n' ';')"
line() { grep -n "$1" /tmp/resp2.log | head -1 | cut -d: -f1; }
v=$(line '^VOLUME vol=1 ident=vol1')
f1=$(line '^FILLED vol=1 chunk=1 seq=1 cow=0$')
q2=$(line '^FAULT vol=1 chunk=2 ')
q3=$(line '^FAULT vol=1 chunk=3 ')
d=$(line '^REPLAY_DONE')
[ -n "$v" ] && [ -n "$f1" ] && [ -n "$q2" ] && [ -n "$q3" ] && [ -n "$d" ] || fail "replay incomplete: $(cat /tmp/resp2.log)"
[ "$v" -lt "$f1" ] && [ "$f1" -lt "$q2" ] && [ "$f1" -lt "$q3" ] && [ "$q2" -lt "$d" ] && [ "$q3" -lt "$d" ] ||
	fail "replay out of order (VOLUME, FILLED, FAULTs, REPLAY_DONE): $(cat /tmp/resp2.log)"
grep -q '^-> MAP vol=1 chunk=[23] .*cow=0 ' /tmp/resp2.log && fail "the new responder reused the granted CoW chunk"
check /tmp/w1 1
check /tmp/w2 2
check /tmp/w3 3
sync /dev/mapper/c1
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "not committed after sync: $(dmsetup status c1)"

step "with detach_timeout=3 and no daemon, a queued write fails with EIO and the log names the volume"
echo 3 >/sys/module/dm_cow/parameters/detach_timeout
stop_responder
put /tmp/w4 4 &
w4=$!
wait_gone $w4 30 || fail "the queued write did not fail within 30 s"
if wait $w4; then fail "the queued write succeeded with no daemon"; fi
dmesg | grep -q 'device-mapper: cow: volume vol1: no daemon attached for 3 s: failing 1 queued writes' ||
	fail "no log line naming the volume: $(dmesg | tail -5)"
[ "$(status_field c1 errors)" -ge 1 ] || fail "errors not counted: $(dmsetup status c1)"

step "a daemon attaching again serves writes"
start_responder resp3 --commit flush --state /tmp/state.json
put /tmp/w5 5 || fail "write after re-attach failed"
check /tmp/w5 5
check /tmp/w1 1
check /tmp/w2 2
check /tmp/w3 3

step "removing the device waits for the daemon to commit chunks whose writes completed"
echo 60 >/sys/module/dm_cow/parameters/detach_timeout
[ "$(status_field c1 filled_uncommitted)" = 1 ] || fail "chunk 5 should be uncommitted: $(dmsetup status c1)"
stop_responder
dmsetup remove c1 &
rm_pid=$!
sleep 3
kill -0 $rm_pid 2>/dev/null || fail "the device was removed with chunk 5 uncommitted"
start_responder resp4 --commit flush --state /tmp/state.json
wait $rm_pid || fail "dmsetup remove failed"
grep -q '^-> COMMITTED vol=1 chunk=5$' /tmp/resp4.log || fail "chunk 5 was not committed before the removal: $(cat /tmp/resp4.log)"
wait_log /tmp/resp4.log '^VOLUME_GONE vol=1' || fail "no VOLUME_GONE"

step "a new device with linear segments for the committed chunks reads every completed write"
$IOCHECK linear-table /tmp/state.json vol1 "$SIZE" 64 "$BASE" "$COW" >/tmp/table || fail "no table"
dmsetup create c1 /tmp/table || fail "create from $(cat /tmp/table) failed"
mapper_nodes
for i in 1 2 3 5; do check /tmp/w$i $i; done
dmsetup remove c1
stop_responder
