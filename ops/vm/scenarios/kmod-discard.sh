# Discards that unmap (discard_unmap): bad option lists are refused naming why; a whole-chunk discard of a committed chunk sends DISCARD once and the chunk reads as the base; a partial discard, a discard of an unmapped chunk and a discard without the option send nothing; a write after the discard faults again and reads as the base plus the write; a new responder gets the DISCARD in the replay and its FORGET drops the chunk (the segment is cow); in a mapped segment a discarded chunk reads as the base at once (not from the old place), FORGET of it is refused there, and a write to it faults and lands in its new place; so does a chunk of a mapped segment the kernel never forgot (a new device, as after a reboot).
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# 8 MiB volume of 64-sector (32 KiB) chunks, 16 MiB CoW device
BASE=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE")
P="vol1 $BASE $COW 64"
CH=32768

refused() {
	if dmsetup create bad --table "0 $SIZE cow $P $1" 2>/dev/null; then
		dmsetup remove bad
		fail "accepted: cow $P $1"
	fi
	dmesg | tail -5 | grep -q "cow: $2" || fail "no 'cow: $2' in the kernel log for '$1': $(dmesg | tail -3)"
}
# chunk_of DEV CHUNK: the chunk's bytes
chunk_of() { dd if="$1" bs=$CH skip="$2" count=1 iflag=direct status=none; }
base_chunk() { dd if=/tmp/base.img bs=$CH skip="$1" count=1 status=none; }
discard() { blkdiscard -o $(($1 * CH)) -l "${2:-$CH}" /dev/mapper/c1 || fail "blkdiscard of chunk $1 failed"; }
count() { grep -c "$1" /tmp/"$2".log || true; }
# reads_base CHUNK: c1's chunk reads as the base's
reads_base() {
	base_chunk "$1" >/tmp/expect-base
	chunk_of /dev/mapper/c1 "$1" | cmp -s - /tmp/expect-base
}

step "bad option lists are refused, naming why"
refused "2 discard_unmap discard_unmap" "discard_unmap given twice"
refused "1 discard_unmaps" "Unknown optional argument"
refused "3 discard_unmap mapped 64x" "mapped <cow_sector> is not a number"
refused "5 mapped 64 discard_unmap mapped 128" "mapped given twice"

start_responder resp1 --commit flush --state /tmp/state.json
echo "0 $SIZE cow $P 1 discard_unmap" | dmsetup create c1 || fail "creating c1 with discard_unmap"
mapper_nodes
dmsetup table c1 | grep -q " 64 1 discard_unmap$" || fail "the table line: $(dmsetup table c1)"
dm=dm-$(dmsetup info -c --noheadings -o minor c1 | tr -d ' ')
[ "$(cat /sys/block/"$dm"/queue/discard_max_bytes)" -gt 0 ] ||
	fail "c1 takes no discards"

step "chunks 3 to 7 written whole and committed"
for c in 3 4 5 6 7; do
	head -c $CH /dev/urandom >"/tmp/w$c"
	dd if="/tmp/w$c" of=/dev/mapper/c1 bs=$CH seek=$c oflag=direct conv=fsync status=none || fail "write chunk $c"
done
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "not committed: $(dmsetup status c1)"

step "a whole-chunk discard of committed chunk 3: DISCARD once, it reads as the base"
discard 3
wait_log /tmp/resp1.log "^DISCARD vol=1 chunk=3$" || fail "no DISCARD for chunk 3: $(tail -5 /tmp/resp1.log)"
reads_base 3 || fail "discarded chunk 3 does not read as the base"
[ "$(status_field c1 discards)" = 1 ] && [ "$(status_field c1 discarded_pending)" = 1 ] ||
	fail "status after one discard: $(dmsetup status c1)"
discard 3
sleep 1
[ "$(count '^DISCARD' resp1)" = 1 ] || fail "a second discard of chunk 3 sent DISCARD again"

step "partial and unmapped discards send nothing; chunk 4's other half keeps its data"
discard 4 16384
discard 100
sleep 1
[ "$(count '^DISCARD' resp1)" = 1 ] || fail "a partial or unmapped discard sent DISCARD: $(grep DISCARD /tmp/resp1.log)"
tail -c 16384 /tmp/w4 >/tmp/expect
dd if=/dev/mapper/c1 bs=16384 skip=9 count=1 iflag=direct status=none | cmp -s - /tmp/expect ||
	fail "chunk 4's second half changed"

step "a write to discarded chunk 3 faults again: the base plus the write"
head -c 4096 /dev/urandom >/tmp/w3b
dd if=/tmp/w3b of=/dev/mapper/c1 bs=4096 seek=$((3 * 8)) oflag=direct conv=fsync status=none || fail "rewrite of chunk 3"
[ "$(count '^FAULT vol=1 chunk=3 ' resp1)" = 2 ] || fail "no second FAULT for chunk 3: $(grep 'chunk=3 ' /tmp/resp1.log)"
{ cat /tmp/w3b; base_chunk 3 | tail -c $((CH - 4096)); } >/tmp/expect
chunk_of /dev/mapper/c1 3 | cmp -s - /tmp/expect ||
	fail "chunk 3 after the rewrite is not the base plus the write"
[ "$(status_field c1 discarded_pending)" = 0 ] || fail "chunk 3 still counted discarded: $(dmsetup status c1)"

step "chunk 5 discarded with no daemon: the next one gets DISCARD in the replay and FORGETs it"
stop_responder
discard 5
reads_base 5 || fail "chunk 5 does not read as the base without a daemon"
start_responder resp2 --commit flush --state /tmp/state.json --forget vol1:5
grep -n "^DISCARD vol=1 chunk=5$\|^REPLAY_DONE" /tmp/resp2.log | head -2 | tr '\n' ' ' | grep -q "DISCARD.*REPLAY_DONE" ||
	fail "the replay did not send DISCARD for chunk 5 before REPLAY_DONE: $(cat /tmp/resp2.log)"
grep -q "^FORGET-RESULT vol1 chunk=5 ok" /tmp/resp2.log || fail "FORGET of discarded chunk 5: $(grep FORGET /tmp/resp2.log)"
[ "$(status_field c1 discarded_pending)" = 0 ] || fail "chunk 5 still pending: $(dmsetup status c1)"
reads_base 5 || fail "chunk 5 does not read as the base after FORGET"
stop_responder
start_responder resp3 --commit flush --state /tmp/state.json --forget vol1:5
grep -q "^DISCARD" /tmp/resp3.log && fail "a forgotten discard was replayed: $(grep DISCARD /tmp/resp3.log)"
grep -q "^FORGET-RESULT vol1 chunk=5 EINVAL" /tmp/resp3.log || fail "a second FORGET of chunk 5 was not refused"

step "chunk 6 moved to a mapped segment and forgotten"
p6=$(sed -n "s/^-> MAP vol=1 chunk=6 seq=[0-9]* cow=\([0-9]*\) .*/\1/p" /tmp/resp1.log | tail -1)
[ -n "$p6" ] || fail "no MAP for chunk 6"
{
	echo "0 384 cow $P 1 discard_unmap"
	echo "384 64 cow $P 3 mapped $p6 discard_unmap"
	echo "448 $((SIZE - 448)) cow $P 1 discard_unmap"
} >/tmp/mapped6
dmsetup load c1 /tmp/mapped6 && dmsetup suspend c1 && dmsetup resume c1 || fail "reload with chunk 6 mapped"
dmsetup table c1 | grep -q "^384 64 cow .* 3 mapped $p6 discard_unmap$" || fail "the mapped line: $(dmsetup table c1)"
stop_responder
start_responder resp4 --commit flush --state /tmp/state.json --forget vol1:6
grep -q "^FORGET-RESULT vol1 chunk=6 ok" /tmp/resp4.log || fail "FORGET of mapped chunk 6: $(grep FORGET /tmp/resp4.log)"
chunk_of /dev/mapper/c1 6 | cmp -s - /tmp/w6 || fail "chunk 6 does not read its data through the mapped segment"

step "discard of chunk 6 in the mapped segment: DISCARD, and it reads as the base at once"
discard 6
wait_log /tmp/resp4.log "^DISCARD vol=1 chunk=6$" || fail "no DISCARD for mapped chunk 6: $(tail -5 /tmp/resp4.log)"
reads_base 6 || fail "discarded chunk 6 still reads from its old place"
stop_responder
start_responder resp5 --commit flush --state /tmp/state.json --forget vol1:6
grep -q "^FORGET-RESULT vol1 chunk=6 EINVAL" /tmp/resp5.log || fail "FORGET of discarded chunk 6 under a mapped segment was not refused"

step "a write to chunk 6 faults and lands in a new place; its other bytes are the base"
head -c 4096 /dev/urandom >/tmp/w6b
dd if=/tmp/w6b of=/dev/mapper/c1 bs=4096 seek=$((6 * 8 + 1)) oflag=direct conv=fsync status=none || fail "rewrite of chunk 6"
n6=$(sed -n "s/^-> MAP vol=1 chunk=6 seq=[0-9]* cow=\([0-9]*\) .*/\1/p" /tmp/resp5.log | tail -1)
[ -n "$n6" ] && [ "$n6" != "$p6" ] || fail "chunk 6 was not placed anew (old $p6, new ${n6:-none})"
{ base_chunk 6 | head -c 4096; cat /tmp/w6b; base_chunk 6 | tail -c $((CH - 8192)); } >/tmp/expect
chunk_of /dev/mapper/c1 6 | cmp -s - /tmp/expect ||
	fail "chunk 6 after the rewrite is not the base plus the write"
dd if=/tmp/cow.img bs=512 skip="$n6" count=64 status=none | cmp -s - /tmp/expect ||
	fail "chunk 6 does not read from its new place"
cp /tmp/expect /tmp/expect6
chunk_of /dev/mapper/c1 7 | cmp -s - /tmp/w7 || fail "chunk 7 changed"

step "without discard_unmap a discard sends nothing"
stop_responder
start_responder resp6 --commit flush --state /tmp/state.json
echo "0 $SIZE cow $P" | dmsetup load c1 && dmsetup suspend c1 && dmsetup resume c1 || fail "reload without the option"
discard 7
sleep 1
grep -q "^DISCARD" /tmp/resp6.log && fail "a discard without discard_unmap sent DISCARD"
stop_responder
dmsetup remove c1

step "a new device (as after a reboot) maps chunk 6 in a segment the kernel never forgot: its discard unmaps it"
start_responder resp7 --commit flush --state /tmp/state.json
{
	echo "0 384 cow $P 1 discard_unmap"
	echo "384 64 cow $P 3 mapped $n6 discard_unmap"
	echo "448 $((SIZE - 448)) cow $P 1 discard_unmap"
} | dmsetup create c1 || fail "c1 again, with chunk 6 mapped"
mapper_nodes
chunk_of /dev/mapper/c1 6 | cmp -s - /tmp/expect6 || fail "chunk 6 does not read its data through the new mapped segment"
discard 6
wait_log /tmp/resp7.log "^DISCARD vol=[0-9]* chunk=6$" ||
	fail "no DISCARD for chunk 6 of a mapped segment the kernel never forgot: $(tail -5 /tmp/resp7.log)"
reads_base 6 || fail "discarded chunk 6 still reads from its place in the new mapped segment"
stop_responder
dmsetup remove c1
step "PASS"
