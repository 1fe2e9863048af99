# A flush and a FUA write to a new chunk complete only after the daemon has committed the filled chunks; a flush with nothing uncommitted sends no FLUSH; on a table of several cow and linear segments, reloaded three times, an fsync to a new chunk of any cow segment still waits for its commit.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE")
# The responder commits 2 s after each FLUSH, like a daemon with a slow metadata device.
start_responder resp --commit flush --commit-delay 2
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# fua_write BLOCK: one 4 KiB O_DSYNC write by libaio. An asynchronous direct write completes on
# its REQ_FUA alone (no fsync follows, unlike dd oflag=sync), so only the FUA path can make it wait.
fua_write() {
	fio --name=fua --filename=/dev/mapper/c1 --rw=write --bs=4k --size=4k --offset=$(($1 * 4096)) \
		--ioengine=libaio --direct=1 --sync=dsync --iodepth=1 --invalidate=0 >/tmp/fua.log 2>&1 || { cat /tmp/fua.log; fail "FUA write failed"; }
}

step "a write to a new chunk completes without waiting for a commit"
dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek=10 oflag=direct status=none || fail "write failed"
wait_log /tmp/resp.log '^FILLED vol=1 chunk=1 seq=1 ' || fail "no FILLED for chunk 1: $(cat /tmp/resp.log)"
[ "$(status_field c1 filled_uncommitted)" = 1 ] || fail "chunk 1 should be filled and uncommitted: $(dmsetup status c1)"
grep -q '^FLUSH' /tmp/resp.log && fail "a FLUSH was sent without a flush"

step "fsync waits for the commit (dd conv=fsync)"
t0=$(now_ms)
dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek=40 oflag=direct conv=fsync status=none || fail "write+fsync failed"
t1=$(now_ms)
step "write + fsync took $((t1 - t0)) ms"
[ $((t1 - t0)) -ge 2000 ] || fail "fsync returned after $((t1 - t0)) ms, before the responder's 2 s commit delay"
grep -q '^FLUSH vol=1 seq=2' /tmp/resp.log || fail "no FLUSH{seq=2}: $(cat /tmp/resp.log)"
grep -q '^-> COMMITTED vol=1 chunk=1$' /tmp/resp.log || fail "chunk 1 not committed"
grep -q '^-> COMMITTED vol=1 chunk=5$' /tmp/resp.log || fail "chunk 5 not committed"
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "chunks left uncommitted after fsync: $(dmsetup status c1)"

step "a FUA write to a new chunk waits for its commit"
t0=$(now_ms)
fua_write 80
t1=$(now_ms)
step "FUA write took $((t1 - t0)) ms"
[ $((t1 - t0)) -ge 2000 ] || fail "FUA write returned after $((t1 - t0)) ms, before the 2 s commit delay"
grep -q '^-> COMMITTED vol=1 chunk=10$' /tmp/resp.log || fail "chunk 10 not committed"

step "a FUA write to a filled, uncommitted chunk waits for its commit too"
dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek=120 oflag=direct status=none || fail "write failed"
wait_log /tmp/resp.log '^FILLED vol=1 chunk=15 ' || fail "no FILLED for chunk 15"
t0=$(now_ms)
fua_write 121
t1=$(now_ms)
step "FUA rewrite took $((t1 - t0)) ms"
[ $((t1 - t0)) -ge 2000 ] || fail "FUA rewrite returned after $((t1 - t0)) ms, before the commit"

step "a flush with nothing uncommitted only flushes the CoW device"
flushes=$(grep -c '^FLUSH' /tmp/resp.log)
sync /dev/mapper/c1 2>/dev/null || python3 -c 'import os; os.fsync(os.open("/dev/mapper/c1", os.O_RDONLY))'
dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek=122 oflag=direct conv=fsync status=none || fail "write+fsync failed"
[ "$(grep -c '^FLUSH' /tmp/resp.log)" = "$flushes" ] || fail "FLUSH sent with nothing uncommitted"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
step "status: $(dmsetup status c1)"

# One cow segment per table takes dm's empty flushes for the whole volume (the others take none):
# a write to another segment must still be flushed and committed, and a reloaded table must have
# its own flush segment once the old table is gone.
LIN=$(make_loop lin.img 65536 zero)
multi_table() {
	printf '0 64 linear %s 0\n64 4032 cow vol1 %s %s 64\n4096 4096 cow vol1 %s %s 64\n8192 64 linear %s 64\n8256 %s cow vol1 %s %s 64\n' \
		"$LIN" "$BASE" "$COW" "$BASE" "$COW" "$LIN" $((SIZE - 8256)) "$BASE" "$COW"
}
# fsync_commits BLOCK CHUNK: a 4 KiB write + fsync to a new chunk waits for the commit.
fsync_commits() {
	t0=$(now_ms)
	dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek="$1" oflag=direct conv=fsync status=none || fail "write+fsync at block $1 failed"
	t1=$(now_ms)
	step "write + fsync at block $1 took $((t1 - t0)) ms"
	[ $((t1 - t0)) -ge 2000 ] || fail "fsync at block $1 returned after $((t1 - t0)) ms, before the 2 s commit delay: $(dmsetup table c1)"
	grep -q "^-> COMMITTED vol=1 chunk=$2\$" /tmp/resp.log || fail "chunk $2 not committed"
}
for round in 1 2 3; do
	step "table $round of 3 cow and 2 linear segments: fsync to a new chunk in each cow segment"
	multi_table | dmsetup reload c1 || fail "reloading c1: $(multi_table)"
	dmsetup resume c1
	[ "$(dmsetup table c1 | grep -c ' cow ')" = 3 ] || fail "c1 has not 3 cow segments: $(dmsetup table c1)"
	dm=dm-$(dmsetup info -c --noheadings -o minor c1 | tr -d ' ')
	[ "$(cat /sys/block/"$dm"/queue/write_cache)" = "write back" ] || fail "c1 does not take flushes: write_cache is $(cat /sys/block/"$dm"/queue/write_cache)"
	# chunks 2..4, 65..67, 130..132: each a new chunk, one per cow segment and round
	fsync_commits $((round * 8 + 8)) $((round + 1))
	fsync_commits $((round * 8 + 512)) $((round + 64))
	fsync_commits $((round * 8 + 1032)) $((round + 129))
done
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"

dmsetup remove c1
stop_responder
