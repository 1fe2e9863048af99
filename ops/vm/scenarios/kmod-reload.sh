# A reload to a table serving committed chunks with linear segments keeps every byte; FORGET then frees those remaps and is refused for chunks a live or inactive cow segment covers; a table that would cover a forgotten chunk with a cow segment again is refused.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# 8 MiB + 16 KiB: 257 chunks of 32 KiB, the last one partial.
BASE=$(make_loop base.img 8404992 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE")
ALLCOW="0 $SIZE cow vol1 $BASE $COW 64"
start_responder resp1 --commit flush --state /tmp/state.json
dmsetup create c1 --table "$ALLCOW"
mapper_nodes

step "write chunks 3 4 5 10 and the whole last partial chunk 256 (16 KiB), then sync"
for c in 3 4 5 10; do
	dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=2 seek=$((c * 8 + 2)) oflag=direct status=none || fail "write to chunk $c failed"
done
head -c 16384 /dev/urandom >/tmp/tail
dd if=/tmp/tail of=/dev/mapper/c1 bs=16384 count=1 seek=$((256 * 2)) oflag=direct status=none || fail "write to chunk 256 failed"
grep -q '^FAULT vol=1 chunk=256 seq=[0-9]* flags=1$' /tmp/resp1.log || fail "the write of the whole partial chunk lacks FULL_WRITE: $(grep 'chunk=256' /tmp/resp1.log)"
grep -q '^-> MAP vol=1 chunk=256 .*fill=none$' /tmp/resp1.log || fail "no FILL_NONE for chunk 256"
[ "$(status_field c1 nocopy_fills)" = 1 ] && [ "$(status_field c1 copies)" = 4 ] ||
	fail "chunk 256 should fill without a copy, the 4 others with one: $(dmsetup status c1)"
dd if=/dev/mapper/c1 bs=16384 count=1 skip=$((256 * 2)) iflag=direct status=none | cmp -s - /tmp/tail || fail "chunk 256 does not read back"
sync /dev/mapper/c1
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "not all committed: $(dmsetup status c1)"
sum1=$(dev_sum /dev/mapper/c1)

step "load a table with linear segments for 3 4 5 256 (10 stays in a cow segment)"
$IOCHECK linear-table /tmp/state.json vol1 "$SIZE" 64 "$BASE" "$COW" 10 >/tmp/table || fail "no table"
cat /tmp/table
dmsetup load c1 /tmp/table || fail "dmsetup load failed"
stop_responder
start_responder resp2 --commit flush --state /tmp/state.json --forget vol1:3
grep -q '^FORGET-RESULT vol1 chunk=3 EINVAL' /tmp/resp2.log || fail "FORGET of a chunk in the live all-cow table was not refused: $(grep FORGET /tmp/resp2.log)"
dmsetup suspend c1 && dmsetup resume c1 || fail "suspend/resume failed"
[ "$(dmsetup table c1 | grep -c ' linear ')" = 4 ] || fail "expected 4 linear segments: $(dmsetup table c1)"
[ "$(dev_sum /dev/mapper/c1)" = "$sum1" ] || fail "data changed across the reload"

step "FORGET is refused while an inactive table covers the chunk"
echo "$ALLCOW" | dmsetup load c1 || fail "loading the inactive all-cow table failed"
stop_responder
start_responder resp3 --commit flush --state /tmp/state.json --forget vol1:4 --forget vol1:10
grep -q '^FORGET-RESULT vol1 chunk=4 EINVAL' /tmp/resp3.log || fail "FORGET of a chunk in the inactive table was not refused"
grep -q '^FORGET-RESULT vol1 chunk=10 EINVAL' /tmp/resp3.log || fail "FORGET of a chunk in a live cow segment was not refused"
dmsetup clear c1 || fail "dmsetup clear failed"

step "FORGET frees the remaps of chunks served by linear segments"
stop_responder
start_responder resp4 --commit flush --state /tmp/state.json --forget vol1:3,4,5,256 --forget vol1:10 --forget vol1:3
for c in 3 4 5 256; do
	grep -q "^FORGET-RESULT vol1 chunk=$c ok" /tmp/resp4.log || fail "FORGET of chunk $c: $(grep FORGET /tmp/resp4.log)"
done
grep -q '^FORGET-RESULT vol1 chunk=10 EINVAL' /tmp/resp4.log || fail "FORGET of chunk 10 (cow segment) was not refused"
[ "$(grep -c '^FORGET-RESULT vol1 chunk=3 ' /tmp/resp4.log)" = 2 ] && grep -q '^FORGET-RESULT vol1 chunk=3 EINVAL' /tmp/resp4.log ||
	fail "a second FORGET of chunk 3 was not refused"
[ "$(dev_sum /dev/mapper/c1)" = "$sum1" ] || fail "data changed after FORGET"

step "a table from before the FORGETs (a cow segment over forgotten chunks) is refused, naming why"
if echo "$ALLCOW" | dmsetup load c1 2>/tmp/stale.err; then
	fail "a cow segment over forgotten chunks 3 4 5 256 was accepted: reads of them would return the base"
fi
dmesg | grep -q 'cow: segment covers chunks already moved to mapped segments and forgotten' ||
	fail "no reason in the kernel log: $(dmesg | tail -3)"
dmsetup table --inactive c1 | grep -q . && fail "an inactive table was left: $(dmsetup table --inactive c1)"
[ "$(dev_sum /dev/mapper/c1)" = "$sum1" ] || fail "data changed after the refused load"

step "writes through linear and cow segments after the reload read back"
head -c 8192 /dev/urandom >/tmp/new
for c in 3 11; do
	dd if=/tmp/new of=/dev/mapper/c1 bs=4096 count=2 seek=$((c * 8)) oflag=direct status=none || fail "write to chunk $c failed"
	dd if=/dev/mapper/c1 bs=4096 count=2 skip=$((c * 8)) iflag=direct status=none | cmp -s - /tmp/new || fail "chunk $c does not read back"
done
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
step "status: $(dmsetup status c1 | grep cow)"
dmsetup remove c1
stop_responder
