# A daemon that exits after mapping chunks whose fills have not finished hands them to the next one as GRANTED in the replay; the fills then finish, FILLED follows and the writes complete with the right data. A queued chunk whose writes come to cover it is filled by them, not copied.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE_LOOP=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE_LOOP")
linear_base "$BASE_LOOP"
for i in 1 2 3; do head -c 4096 /dev/urandom >/tmp/w$i; done
# put FILE CHUNK: a direct 4 KiB write of FILE at 4 KiB into the 32 KiB CHUNK.
put() { dd if="$1" of=/dev/mapper/c1 bs=4096 count=1 seek=$(($2 * 8 + 1)) oflag=direct status=none; }
# check FILE CHUNK: the whole chunk reads as the base with FILE at 4 KiB.
check() {
	{ dd if=/tmp/base.img bs=4096 count=1 skip=$(($2 * 8)) status=none; cat "$1"
	  dd if=/tmp/base.img bs=4096 count=6 skip=$(($2 * 8 + 2)) status=none; } >/tmp/expect
	dd if=/dev/mapper/c1 bs=4096 count=8 skip=$(($2 * 8)) iflag=direct status=none | cmp -s - /tmp/expect ||
		fail "chunk $2 does not read as the base with $1 written into it"
}

# One fill at a time: with the first held, the second chunk's fill stays queued.
echo 1 >/sys/module/dm_cow/parameters/max_copies
start_responder resp1 --commit never --exit-after-maps 2 --state /tmp/state.json
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes

step "the base is suspended, so the copy for chunk 1 cannot finish"
dmsetup suspend bl
put /tmp/w1 1 &
w1=$!
wait_log /tmp/resp1.log '^-> MAP vol=1 chunk=1 seq=1 cow=0 fill=copy$' || fail "no MAP for chunk 1: $(cat /tmp/resp1.log)"
put /tmp/w2 2 &
w2=$!
wait_gone "$RESP_PID" 30 || fail "responder 1 did not exit after its second MAP"
grep -q '^-> MAP vol=1 chunk=2 seq=2 cow=64 fill=copy$' /tmp/resp1.log || fail "no MAP for chunk 2: $(cat /tmp/resp1.log)"
sleep 2
kill -0 $w1 2>/dev/null || fail "the write to chunk 1 ended while its fill was held"
kill -0 $w2 2>/dev/null || fail "the write to chunk 2 ended while its fill was queued"
step "status: $(dmsetup status c1)"
dmsetup status c1 | grep -q ' detached ' || fail "status does not say detached: $(dmsetup status c1)"
[ "$(status_field c1 faults_pending)" = 0 ] || fail "both faults were answered: $(dmsetup status c1)"
[ "$(status_field c1 copies_in_flight)" = 1 ] || fail "expected the one held copy in flight: $(dmsetup status c1)"

step "a new responder gets both mapped chunks as GRANTED, once each, before REPLAY_DONE"
start_responder resp2 --commit flush --state /tmp/state.json
line() { grep -n "$1" /tmp/resp2.log | head -1 | cut -d: -f1; }
g1=$(line '^GRANTED vol=1 chunk=1 seq=0 cow=0$')
g2=$(line '^GRANTED vol=1 chunk=2 seq=0 cow=64$')
d=$(line '^REPLAY_DONE')
[ -n "$g1" ] && [ -n "$g2" ] && [ -n "$d" ] || fail "GRANTED missing from the replay: $(cat /tmp/resp2.log)"
[ "$g1" -lt "$d" ] && [ "$g2" -lt "$d" ] || fail "GRANTED after REPLAY_DONE: $(cat /tmp/resp2.log)"
[ "$(grep -c '^GRANTED' /tmp/resp2.log)" = 2 ] || fail "expected exactly 2 GRANTED: $(cat /tmp/resp2.log)"
grep -q '^FAULT' /tmp/resp2.log && fail "answered faults were replayed as FAULT: $(cat /tmp/resp2.log)"
kill -0 $w1 2>/dev/null && kill -0 $w2 2>/dev/null || fail "a write ended before the base was resumed"

step "resuming the base lets the fills finish: FILLED follows, the writes complete"
dmsetup resume bl
wait $w1 || fail "the write to chunk 1 failed"
wait $w2 || fail "the write to chunk 2 failed"
wait_log /tmp/resp2.log '^FILLED vol=1 chunk=1 seq=[12] cow=0$' || fail "no FILLED for chunk 1: $(cat /tmp/resp2.log)"
wait_log /tmp/resp2.log '^FILLED vol=1 chunk=2 seq=[12] cow=64$' || fail "no FILLED for chunk 2: $(cat /tmp/resp2.log)"
check /tmp/w1 1
check /tmp/w2 2

step "the new responder treats the granted space as allocated"
put /tmp/w3 3 || fail "write to chunk 3 failed"
grep -q '^-> MAP vol=1 chunk=3 seq=3 cow=128 ' /tmp/resp2.log || fail "chunk 3 not placed after the granted chunks: $(grep MAP /tmp/resp2.log)"
check /tmp/w3 3
sync /dev/mapper/c1
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "not committed after sync: $(dmsetup status c1)"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
[ "$(status_field c1 copies)" = 3 ] || fail "expected 3 copies: $(dmsetup status c1)"
step "status: $(dmsetup status c1)"

step "writes that join a queued chunk and come to cover it are its fill when its turn comes: no copy"
head -c 32768 /dev/urandom >/tmp/c5
# putc5 FROM LEN: bytes FROM .. FROM+LEN of /tmp/c5 into chunk 5, as one direct write.
putc5() {
	dd if=/tmp/c5 of=/dev/mapper/c1 bs="$2" count=1 iflag=skip_bytes skip="$1" \
		oflag=direct,seek_bytes seek=$((5 * 32768 + $1)) status=none
}
copies=$(status_field c1 copies)
nocopy=$(status_field c1 nocopy_fills)
dmsetup suspend bl
put /tmp/w1 4 &
w4=$!
wait_log /tmp/resp2.log '^-> MAP vol=1 chunk=4 ' || fail "no MAP for chunk 4: $(cat /tmp/resp2.log)"
putc5 4096 4096 &
p1=$!
wait_log /tmp/resp2.log '^-> MAP vol=1 chunk=5 .*fill=copy$' || fail "no copy MAP for chunk 5: $(cat /tmp/resp2.log)"
putc5 0 4096 &
p0=$!
putc5 8192 24576 &
p2=$!
sleep 2
for p in $w4 $p1 $p0 $p2; do kill -0 "$p" 2>/dev/null || fail "a write to chunk 4 or 5 ended while the base was suspended"; done
[ "$(status_field c1 copies_in_flight)" = 1 ] || fail "expected chunk 4's held copy alone in flight: $(dmsetup status c1)"
dmsetup resume bl
for p in $w4 $p1 $p0 $p2; do wait "$p" || fail "a write to chunk 4 or 5 failed"; done
[ "$(status_field c1 copies)" = $((copies + 1)) ] && [ "$(status_field c1 nocopy_fills)" = $((nocopy + 1)) ] ||
	fail "want chunk 4 copied and chunk 5 filled by its three writes: $(dmsetup status c1)"
check /tmp/w1 4
dd if=/dev/mapper/c1 bs=32768 count=1 skip=5 iflag=direct status=none | cmp -s - /tmp/c5 ||
	fail "chunk 5 does not read as its three writes"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
dmsetup remove c1
stop_responder
dmsetup remove bl
