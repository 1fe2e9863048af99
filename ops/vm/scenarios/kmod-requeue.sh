# A noflush suspend does not wait for answers the daemon does not give, nor for a daemon at all: the writes on unanswered faults and a flush waiting for COMMITTED go back to dm core, the suspend and a table reload complete, written chunks and unwritten reads go on, and after the resume the writes wait on their faults again (no new FAULT) until the daemon answers; a FILL_NONE for a whole-chunk write that was handed back fills by copy; a suspend with flush still waits, and interrupting it fails nothing.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# 4 MiB: 128 chunks of 32 KiB
BASE=$(make_loop base.img 4194304 random)
COW=$(make_loop cow.img 8388608 zero)
SIZE=$(sectors "$BASE")
start_responder resp1 --commit flush --state /tmp/state.json
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes
# chunk N [BS COUNT SKIP]: sha256 of chunk N (or of the given dd range) read from the device
chunk() { dd if=/dev/mapper/c1 bs="${2:-32768}" count="${3:-1}" skip="${4:-$1}" iflag=direct status=none | sha256sum | cut -d' ' -f1; }
running() { for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done; }

step "chunk 2 written and committed, chunk 9 written and left uncommitted"
head -c 32768 /dev/urandom >/tmp/c2
dd if=/tmp/c2 of=/dev/mapper/c1 bs=32768 seek=2 oflag=direct status=none || fail "write to chunk 2"
sync /dev/mapper/c1
head -c 32768 /dev/urandom >/tmp/c9
dd if=/tmp/c9 of=/dev/mapper/c1 bs=32768 seek=9 oflag=direct status=none || fail "write to chunk 9"
[ "$(status_field c1 filled_uncommitted)" = 1 ] || fail "chunk 9 should be filled, not committed: $(dmsetup status c1)"
stop_responder

step "a daemon that answers no fault and commits nothing: writes to chunks 5 (part) and 7 (whole) and a flush wait"
start_responder resp2 --hold-faults --commit never --state /tmp/state.json
head -c 4096 /dev/urandom >/tmp/p5
head -c 32768 /dev/urandom >/tmp/w7
dd if=/tmp/p5 of=/dev/mapper/c1 bs=4096 seek=$((5 * 8 + 1)) oflag=direct status=none 2>/tmp/w5.err &
W5=$!
dd if=/tmp/w7 of=/dev/mapper/c1 bs=32768 seek=7 oflag=direct status=none 2>/tmp/w7.err &
W7=$!
sync /dev/mapper/c1 2>/tmp/fl.err &
FL=$!
wait_log /tmp/resp2.log '^FAULT vol=1 chunk=5 seq=[0-9]* flags=0$' || fail "no FAULT for chunk 5: $(cat /tmp/resp2.log)"
wait_log /tmp/resp2.log '^FAULT vol=1 chunk=7 seq=[0-9]* flags=1$' || fail "no FULL_WRITE FAULT for chunk 7: $(cat /tmp/resp2.log)"
wait_log /tmp/resp2.log '^FLUSH vol=1 ' || fail "no FLUSH: $(cat /tmp/resp2.log)"
running $W5 $W7 $FL || fail "a write or the flush ended without an answer"

step "dmsetup suspend --noflush completes with them waiting"
timeout 60 dmsetup suspend --noflush c1 || fail "the noflush suspend did not complete: $(dmsetup info c1)"
dmsetup info c1 | grep -q '^State: *SUSPENDED' || fail "c1 is not suspended: $(dmsetup info c1)"
running $W5 $W7 $FL || fail "a handed-back write or flush ended: $(cat /tmp/w5.err /tmp/w7.err /tmp/fl.err)"

step "a reload to a table with chunk 2 in a linear segment, and the resume, complete"
$IOCHECK linear-table /tmp/state.json vol1 "$SIZE" 64 "$BASE" "$COW" >/tmp/table || fail "no table"
dmsetup load c1 /tmp/table || fail "dmsetup load failed"
timeout 60 dmsetup resume c1 || fail "the resume did not complete"
[ "$(dmsetup table c1 | grep -c ' linear ')" = 1 ] || fail "expected chunk 2 linear: $(dmsetup table c1)"

step "after the resume: reads and rewrites of written chunks and reads of unwritten ones go on; the writes wait on their faults"
[ "$(chunk 2)" = "$(sha256sum </tmp/c2 | cut -d' ' -f1)" ] || fail "chunk 2 reads back wrong"
[ "$(chunk 9)" = "$(sha256sum </tmp/c9 | cut -d' ' -f1)" ] || fail "chunk 9 reads back wrong"
[ "$(chunk 50)" = "$(dd if="$BASE" bs=32768 skip=50 count=1 status=none | sha256sum | cut -d' ' -f1)" ] || fail "unwritten chunk 50 does not read as the base"
head -c 32768 /dev/urandom >/tmp/c2
timeout 30 dd if=/tmp/c2 of=/dev/mapper/c1 bs=32768 seek=2 oflag=direct status=none || fail "rewrite of chunk 2"
head -c 4096 /dev/urandom >/tmp/p9
timeout 30 dd if=/tmp/p9 of=/dev/mapper/c1 bs=4096 seek=$((9 * 8)) conv=notrunc oflag=direct status=none || fail "rewrite of filled chunk 9"
[ "$(chunk 2)" = "$(sha256sum </tmp/c2 | cut -d' ' -f1)" ] || fail "rewritten chunk 2 reads back wrong"
sleep 1
running $W5 $W7 $FL || fail "a write or the flush ended without an answer: $(cat /tmp/w5.err /tmp/w7.err /tmp/fl.err)"
[ "$(grep -c '^FAULT vol=1 chunk=[57] ' /tmp/resp2.log)" = 2 ] || fail "the requeued writes faulted again: $(grep FAULT /tmp/resp2.log)"
[ "$(status_field c1 faults_pending)" = 2 ] || fail "faults_pending: $(dmsetup status c1)"

step "a suspend with flush still waits for them; interrupted, it fails nothing"
rc=0
timeout 3 dmsetup suspend c1 2>/dev/null || rc=$?
[ $rc != 0 ] || fail "a suspend with flush completed while writes wait for the daemon"
dmsetup info c1 | grep -q '^State: *ACTIVE' || fail "c1 is left suspended: $(dmsetup info c1)"
running $W5 $W7 $FL || fail "the interrupted suspend ended a write or the flush: $(cat /tmp/w5.err /tmp/w7.err /tmp/fl.err)"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"

step "with no daemon attached, a noflush suspend completes too; a daemon attaching meanwhile answers: chunk 7's FILL_NONE, its write handed back, fills by copy"
stop_responder
timeout 60 dmsetup suspend --noflush c1 || fail "the noflush suspend without a daemon did not complete"
start_responder resp3 --commit flush --state /tmp/state.json
wait_log /tmp/resp3.log '^-> MAP vol=1 chunk=7 .*fill=none$' || fail "no FILL_NONE MAP for chunk 7: $(cat /tmp/resp3.log)"
wait_log /tmp/resp3.log '^FILLED vol=1 chunk=7 ' || fail "chunk 7 was not filled: $(cat /tmp/resp3.log; dmesg | tail -3)"
wait_log /tmp/resp3.log '^FILLED vol=1 chunk=5 ' || fail "chunk 5 was not filled: $(cat /tmp/resp3.log)"
running $W5 $W7 $FL || fail "a write or the flush ended while suspended"
timeout 60 dmsetup resume c1 || fail "the resume did not complete"
for p in $W5 $W7 $FL; do
	wait_gone $p 30 || fail "a write or the flush still waits after the answers and the resume"
done
wait $W5 || fail "the write to chunk 5 failed: $(cat /tmp/w5.err)"
wait $W7 || fail "the write to chunk 7 failed: $(cat /tmp/w7.err)"
wait $FL || fail "the flush failed: $(cat /tmp/fl.err)"
[ "$(chunk 7)" = "$(sha256sum </tmp/w7 | cut -d' ' -f1)" ] || fail "chunk 7 reads back wrong"
{ dd if="$BASE" bs=4096 skip=40 count=1 status=none; cat /tmp/p5; dd if="$BASE" bs=4096 skip=42 count=6 status=none; } >/tmp/c5
[ "$(chunk 5)" = "$(sha256sum </tmp/c5 | cut -d' ' -f1)" ] || fail "chunk 5 is not the base with the write over it"
{ cat /tmp/p9; tail -c +4097 /tmp/c9; } >/tmp/c9new
[ "$(chunk 9)" = "$(sha256sum </tmp/c9new | cut -d' ' -f1)" ] || fail "chunk 9 reads back wrong"
# 2 and 9 were filled by their whole-chunk writes, 5 and 7 by copies
[ "$(status_field c1 nocopy_fills)" = 2 ] && [ "$(status_field c1 copies)" = 2 ] || fail "chunk 7 was not filled by a copy: $(dmsetup status c1)"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
[ "$(status_field c1 faults_pending)" = 0 ] || fail "faults pending: $(dmsetup status c1)"
! dmesg | grep -q 'cow: rejected' || fail "the kernel rejected a message: $(dmesg | grep 'cow: rejected')"
step "status: $(dmsetup status c1 | grep cow)"
dmsetup remove c1
stop_responder
