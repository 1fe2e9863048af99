# Mapped cow segments (2 mapped <cow_sector>): bad mapped arguments are refused with their reason; reads and writes land at <cow_sector> + offset on the CoW device; an fsync through a table of 1 cow and 100 mapped segments (the cow or a mapped one first) sends one empty flush to the CoW device and one FLUSH, and waits for the commit; FORGET of chunks under mapped segments is accepted and they keep reading from the CoW device.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# 8 MiB volume of 64-sector chunks (256 chunks), 16 MiB CoW device (32768 sectors), both random
BASE=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 random)
SIZE=$(sectors "$BASE")
start_responder resp --commit flush --commit-delay 1
P="vol1 $BASE $COW 64"

step "bad mapped arguments are refused, naming why"
refused() {
	if dmsetup create bad --table "0 $SIZE cow $P $1" 2>/dev/null; then
		dmsetup remove bad
		fail "accepted: cow $P $1"
	fi
	dmesg | grep -q "cow: $2" || fail "no 'cow: $2' in the kernel log for '$1': $(dmesg | tail -3)"
}
refused "2 mapped 8" "mapped <cow_sector> is not a multiple of chunk_sectors"
refused "2 mapped 16x" "mapped <cow_sector> is not a number"
refused "1 mapped" "mapped takes exactly one argument, <cow_sector>"
refused "3 mapped 64 64" "Unknown optional argument"
refused "2 linear 64" "Unknown optional argument"
refused "2 mapped 16448" "mapped segment ends beyond the CoW device"
refused "2 mapped 18446744073709551552" "mapped segment ends beyond the CoW device"

# mapped_table FIRST: sectors 0..1023 cow (or mapped at CoW 16384 if FIRST=mapped), then 100 mapped
# segments of one chunk, volume sector s at CoW sector 16384 + s, then cow to the end.
mapped_table() {
	if [ "$1" = mapped ]; then
		echo "0 1024 cow $P 2 mapped 16384"
	else
		echo "0 1024 cow $P"
	fi
	s=1024
	while [ $s -lt 7424 ]; do
		echo "$s 64 cow $P 2 mapped $((16384 + s))"
		s=$((s + 64))
	done
	echo "7424 $((SIZE - 7424)) cow $P"
}
mapped_table cow | dmsetup create c1 || fail "creating c1 with mapped segments"
mapper_nodes
[ "$(dmsetup table c1 | grep -c ' 2 mapped ')" = 100 ] || fail "c1 has not 100 mapped segments: $(dmsetup table c1 | head -3)"
dmsetup table c1 | grep -q "^1088 64 cow vol1 [0-9:]* [0-9:]* 64 2 mapped 17472$" || fail "the table line of a mapped segment: $(dmsetup table c1 | sed -n 3p)"

step "reads through mapped segments come from the CoW device at <cow_sector> + offset"
dd if=/dev/mapper/c1 bs=512 skip=1024 count=6400 iflag=direct status=none >/tmp/via
dd if=/tmp/cow.img bs=512 skip=17408 count=6400 status=none | cmp -s - /tmp/via || fail "mapped reads differ from the CoW file"
dd if=/tmp/base.img bs=512 skip=1024 count=6400 status=none | cmp -s - /tmp/via && fail "mapped reads come from the base"

step "writes through a mapped segment land there, with no FAULT"
head -c 12288 /dev/urandom >/tmp/w
# volume sector 1024 + 5 * 64 + 8: inside the sixth mapped segment, crossing into the seventh
dd if=/tmp/w of=/dev/mapper/c1 bs=512 seek=$((1024 + 5 * 64 + 40)) oflag=direct status=none || fail "write failed"
dd if=/tmp/cow.img bs=512 skip=$((17408 + 5 * 64 + 40)) count=24 status=none | cmp -s - /tmp/w || fail "the write is not at its CoW place"
grep -q '^FAULT' /tmp/resp.log && fail "a write to mapped segments faulted: $(grep FAULT /tmp/resp.log)"

# cow_flushes: flush requests the CoW loop device has completed (diskstats field 16)
cow_flushes() { awk '{ print $16 }' "/sys/block/$(basename "$COW")/stat"; }
fsync_dev() { python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' /dev/mapper/c1; }
# one_flush WHAT: an fsync of c1 sends exactly one empty flush to the CoW device
one_flush() {
	f0=$(cow_flushes)
	fsync_dev
	f1=$(cow_flushes)
	step "$1: fsync sent $((f1 - f0)) flush(es) to the CoW device"
	[ $((f1 - f0)) = 1 ] || fail "$1: fsync sent $((f1 - f0)) flushes to the CoW device, not 1: $(dmsetup table c1 | head -3)"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# fsync_commits BLOCK CHUNK: a 4 KiB write + fsync to a new chunk of the cow segment sends one
# FLUSH and waits for the responder's commit (1 s later)
fsync_commits() {
	n0=$(grep -c '^FLUSH' /tmp/resp.log || true)
	t0=$(now_ms)
	dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek="$1" oflag=direct conv=fsync status=none || fail "write+fsync at block $1 failed"
	t1=$(now_ms)
	n1=$(grep -c '^FLUSH' /tmp/resp.log || true)
	step "write + fsync at block $1 took $((t1 - t0)) ms, $((n1 - n0)) FLUSH"
	[ $((t1 - t0)) -ge 1000 ] || fail "fsync returned after $((t1 - t0)) ms, before the 1 s commit delay"
	[ $((n1 - n0)) = 1 ] || fail "$((n1 - n0)) FLUSH messages for one fsync"
	grep -q "^-> COMMITTED vol=1 chunk=$2\$" /tmp/resp.log || fail "chunk $2 not committed"
}

step "fsync on 1 cow + 100 mapped segments, the cow one first"
one_flush "cow first"
fsync_commits 1000 125

step "the same with a mapped segment first: it takes the flushes and waits for COMMITTED"
mapped_table mapped | dmsetup reload c1 || fail "reloading c1 with a mapped first segment"
dmsetup resume c1
dmsetup table c1 | head -1 | grep -q ' 2 mapped 16384$' || fail "the first segment is not mapped: $(dmsetup table c1 | head -1)"
one_flush "mapped first"
fsync_commits 1016 127
dm=dm-$(dmsetup info -c --noheadings -o minor c1 | tr -d ' ')
[ "$(cat /sys/block/"$dm"/queue/write_cache)" = "write back" ] || fail "c1 does not take flushes"

step "for comparison: 100 dm-linear segments in their place"
mapped_table cow | sed "s| cow $P 2 mapped \([0-9]*\)$| linear $COW \1|" | dmsetup reload c1 || fail "reloading with linear segments"
dmsetup resume c1
[ "$(dmsetup table c1 | grep -c ' linear ')" = 100 ] || fail "not 100 linear segments"
f0=$(cow_flushes)
fsync_dev
f1=$(cow_flushes)
step "1 cow + 100 linear: fsync sent $((f1 - f0)) flushes to the CoW device"
[ $((f1 - f0)) -gt 1 ] || fail "the CoW device's flush count does not see dm-linear's flushes ($((f1 - f0)))"

step "FORGET of chunks under mapped segments is accepted; they keep reading from the CoW device"
# chunks 125 and 127 were written in the cow segment: map them where the responder put them
place() { sed -n "s/^-> MAP vol=1 chunk=$1 seq=[0-9]* cow=\([0-9]*\) .*/\1/p" /tmp/resp.log | tail -1; }
p125=$(place 125)
p127=$(place 127)
[ -n "$p125" ] && [ -n "$p127" ] || fail "no MAP for chunks 125, 127: $(grep MAP /tmp/resp.log)"
dd if=/dev/mapper/c1 bs=512 skip=$((125 * 64)) count=192 iflag=direct status=none >/tmp/before
{
	mapped_table cow | sed '$d'
	echo "7424 576 cow $P"
	echo "8000 64 cow $P 2 mapped $p125"
	echo "8064 64 cow $P"
	echo "8128 64 cow $P 2 mapped $p127"
	echo "8192 $((SIZE - 8192)) cow $P"
} | dmsetup reload c1 || fail "reloading with chunks 125 and 127 mapped"
dmsetup resume c1
stop_responder
start_responder resp2 --commit flush --forget vol1:125,127,126
grep -q '^FORGET-RESULT vol1 chunk=125 ok' /tmp/resp2.log || fail "FORGET of chunk 125 (mapped): $(grep FORGET /tmp/resp2.log)"
grep -q '^FORGET-RESULT vol1 chunk=127 ok' /tmp/resp2.log || fail "FORGET of chunk 127 (mapped): $(grep FORGET /tmp/resp2.log)"
grep -q '^FORGET-RESULT vol1 chunk=126 EINVAL' /tmp/resp2.log || fail "FORGET of chunk 126 (cow, never written) not refused"
dd if=/dev/mapper/c1 bs=512 skip=$((125 * 64)) count=192 iflag=direct status=none | cmp -s - /tmp/before || fail "chunks 125..127 changed after FORGET"
step "a cow segment over the forgotten chunks is still refused; a mapped one is taken"
mapped_table cow | dmsetup load c1 2>/dev/null && fail "a cow segment over forgotten chunk 125 was accepted"
dmesg | grep -q 'cow: segment covers chunks already moved to mapped segments and forgotten' || fail "no reason logged"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"

dmsetup remove c1
stop_responder
