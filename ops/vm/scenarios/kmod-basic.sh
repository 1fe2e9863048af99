# dm-cow serves reads from the base and writes of every size and offset from the CoW device, with one fault per chunk, no copy for a chunk its writes cover (one or several), a copy around the writes for others, and the base untouched.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# 16 MiB + 24 KiB: 257 chunks of 64 KiB, the last one partial.
BASE=$(make_loop base.img 16801792 random)
COW=$(make_loop cow.img 33554432 zero)
base_sum=$(sha256sum </tmp/base.img | cut -d' ' -f1)
SIZE=$(sectors "$BASE")
start_responder resp --map-delay 0.3
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 128"
mapper_nodes
wait_log /tmp/resp.log "^VOLUME vol=1 ident=vol1 sectors=$SIZE .*chunk_sectors=128" || fail "no VOLUME message: $(cat /tmp/resp.log)"

step "table: $(dmsetup table c1)"
dmsetup table c1 | grep -q "^0 $SIZE cow vol1 [0-9]*:[0-9]* [0-9]*:[0-9]* 128\$" || fail "table line not printed back: $(dmsetup table c1)"

step "an untouched device reads as the base, byte for byte"
$IOCHECK compare /dev/mapper/c1 /tmp/base.img || fail "untouched device differs from the base"
[ "$(status_field c1 faults_pending)" = 0 ] || fail "reads caused faults: $(dmsetup status c1)"
! grep -q '^FAULT' /tmp/resp.log || fail "reads sent FAULT messages"

step "writes of many sizes and offsets read back exactly"
$IOCHECK pattern /dev/mapper/c1 /tmp/base.img 128 7 /tmp/model.img || fail "pattern check failed"
step "status: $(dmsetup status c1)"

faults11=$(grep -c '^FAULT vol=1 chunk=11 ' /tmp/resp.log || true)
[ "$faults11" = 1 ] || fail "chunk 11 got $faults11 FAULT messages for 4 concurrent writes (want 1)"
for c in $(grep '^FAULT' /tmp/resp.log | sed 's/.*chunk=\([0-9]*\).*/\1/' | sort | uniq -d); do
	fail "chunk $c faulted twice"
done
[ "$(status_field c1 nocopy_fills)" = 3 ] || fail "chunks 3, 8 and 255 are written whole and should fill without a copy: $(dmsetup status c1)"
grep -q '^FAULT vol=1 chunk=3 seq=[0-9]* flags=1' /tmp/resp.log || fail "the whole-chunk write's fault lacks FULL_WRITE"
grep -q '^-> MAP vol=1 chunk=3 .*fill=none' /tmp/resp.log || fail "no FILL_NONE for chunk 3"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
[ "$(status_field c1 faults_pending)" = 0 ] || fail "faults still pending: $(dmsetup status c1)"
[ "$(status_field c1 copies_in_flight)" = 0 ] || fail "copies still in flight: $(dmsetup status c1)"
[ "$(status_field c1 copies)" = 8 ] || fail "chunks 1 2 4 5 7 9 11 256 are written in part and should be copied: $(dmsetup status c1)"

step "buffered reads through the page cache see the same data"
echo 3 >/proc/sys/vm/drop_caches
cmp /dev/mapper/c1 /tmp/model.img || fail "buffered read differs from the expected image"

# discard_sectors LOOPDEV: sectors discarded on the device so far (field 14 of its stat).
discard_sectors() { awk '{ print $14 }' "/sys/block/$(basename "$1")/stat"; }
# write_sectors LOOPDEV: sectors written to the device so far (field 7 of its stat).
write_sectors() { awk '{ print $7 }' "/sys/block/$(basename "$1")/stat"; }
# cow_range_is COW_SECTOR data|hole: the CoW file's 64 KiB at that sector holds data, or none.
cow_range_is() {
	python3 -c '
import os, sys
fd = os.open("/tmp/cow.img", os.O_RDONLY)
off = int(sys.argv[1]) * 512
try:
    data = os.lseek(fd, off, os.SEEK_DATA) < off + 65536
except OSError:
    data = False
sys.exit(0 if data == (sys.argv[2] == "data") else 1)' "$1" "$2"
}
minor=$(dmsetup info -c --noheadings -o minor c1 | tr -d ' ')
[ "$(cat /sys/block/dm-$minor/queue/discard_max_bytes)" -gt 0 ] || fail "the volume does not advertise discard"

step "a discard of an unmapped chunk changes nothing and reaches neither device"
grep -q '^FAULT vol=1 chunk=0 ' /tmp/resp.log && fail "chunk 0 was written; the step needs it unmapped"
blkdiscard -o 0 -l 65536 /dev/mapper/c1 || fail "blkdiscard of chunk 0 failed"
$IOCHECK compare /dev/mapper/c1 /tmp/model.img || fail "data changed after a discard of an unmapped chunk"
[ "$(discard_sectors "$COW")" = 0 ] || fail "the discard of an unmapped chunk reached the CoW device"

step "a discard of a filled chunk is passed down: the CoW file's blocks are punched out"
cow3=$(sed -n 's/^-> MAP vol=1 chunk=3 .*cow=\([0-9]*\) .*/\1/p' /tmp/resp.log)
[ -n "$cow3" ] || fail "no MAP for chunk 3"
cow_range_is "$cow3" data || fail "chunk 3's placement at sector $cow3 holds no data before the discard"
blkdiscard -o $((3 * 65536)) -l 65536 /dev/mapper/c1 || fail "blkdiscard of chunk 3 failed"
[ "$(discard_sectors "$COW")" = 128 ] || fail "the CoW device saw $(discard_sectors "$COW") discarded sectors, want 128"
cow_range_is "$cow3" hole || fail "chunk 3's placement at sector $cow3 still holds data after the discard"
[ "$(discard_sectors "$BASE")" = 0 ] || fail "a discard reached the base"

# zero_model OFFSET BYTES: the expected image reads zeroes there (4 KiB multiples).
zero_model() {
	dd if=/dev/zero of=/tmp/model.img bs=4096 seek=$(($1 / 4096)) count=$(($2 / 4096)) conv=notrunc status=none
}
zero_model $((3 * 65536)) 65536

step "a discard that crosses a chunk boundary (from a linear device over c1, half a chunk in) reaches both chunks"
# Userspace's discards are cut at the granularity; one from a device above need not be.
dmsetup create lin --table "0 1024 linear /dev/mapper/c1 $((8 * 128 + 64))"
mapper_nodes
before=$(discard_sectors "$COW")
blkdiscard -o 0 -l 65536 /dev/mapper/lin || fail "blkdiscard across chunks 8 and 9 failed"
dmsetup remove lin
[ $(($(discard_sectors "$COW") - before)) = 128 ] ||
	fail "the CoW device saw $(($(discard_sectors "$COW") - before)) discarded sectors of the 128 across chunks 8 and 9"
zero_model $((8 * 65536 + 32768)) 65536
$IOCHECK compare /dev/mapper/c1 /tmp/model.img || fail "the discarded halves of chunks 8 and 9 do not read as zeroes"

# fallocate --punch-hole on a block device is WRITE_ZEROES with no fallback to writing zero
# pages (BLKZEROOUT falls back, and asks for no unmap, which a loop device over tmpfs refuses).
step "WRITE_ZEROES: a whole unmapped chunk is filled by the zeroing itself; a range across two is copied around it"
[ "$(cat /sys/block/dm-$minor/queue/write_zeroes_max_bytes)" -gt 0 ] || fail "the volume does not advertise WRITE_ZEROES"
[ "$(cat /sys/block/dm-$minor/queue/optimal_io_size)" = 65536 ] ||
	fail "optimal_io_size is $(cat /sys/block/dm-$minor/queue/optimal_io_size), not the chunk's 65536"
grep -q '^FAULT vol=1 chunk=2[012] ' /tmp/resp.log && fail "chunks 20-22 were written; the step needs them unmapped"
nocopy=$(status_field c1 nocopy_fills)
copies=$(status_field c1 copies)
fallocate -p -o $((20 * 65536)) -l 65536 /dev/mapper/c1 || fail "zeroing chunk 20 failed"
fallocate -p -o $((21 * 65536 + 32768)) -l 65536 /dev/mapper/c1 || fail "zeroing across chunks 21 and 22 failed"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
grep -q '^-> MAP vol=1 chunk=20 .*fill=none' /tmp/resp.log || fail "chunk 20, zeroed whole, was not mapped with FILL_NONE"
[ "$(status_field c1 nocopy_fills)" = $((nocopy + 1)) ] && [ "$(status_field c1 copies)" = $((copies + 2)) ] ||
	fail "want one fill without a copy (chunk 20) and two copies (21, 22): $(dmsetup status c1)"
zero_model $((20 * 65536)) 65536
zero_model $((21 * 65536 + 32768)) 65536
$IOCHECK compare /dev/mapper/c1 /tmp/model.img || fail "the zeroed ranges do not read as zeroes, or their neighbours changed"

step "four 16 KiB writes that together cover an unmapped chunk are its fill: no copy"
grep -q '^FAULT vol=1 chunk=30 ' /tmp/resp.log && fail "chunk 30 was written; the step needs it unmapped"
nocopy=$(status_field c1 nocopy_fills)
copies=$(status_field c1 copies)
# One io_submit of all four: they queue on the one fault while the responder waits 0.3 s to map
# it. fio then reads them back: each block's header names its offset, its checksum its data.
fio --name=union --filename=/dev/mapper/c1 --rw=write --bs=16k --size=64k --offset=$((30 * 65536)) \
	--ioengine=libaio --direct=1 --iodepth=4 --iodepth_batch_submit=4 --verify=crc32c --verify_fatal=1 --verify_state_save=0 \
	--output=/tmp/fio-union.log || fail "fio's four writes failed or read back wrong: $(cat /tmp/fio-union.log)"
[ "$(grep -c '^FAULT vol=1 chunk=30 ' /tmp/resp.log)" = 1 ] || fail "chunk 30 did not fault exactly once"
[ "$(status_field c1 nocopy_fills)" = $((nocopy + 1)) ] && [ "$(status_field c1 copies)" = "$copies" ] ||
	fail "chunk 30 was copied though its four writes covered it: $(dmsetup status c1)"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
dd if=/dev/mapper/c1 of=/tmp/model.img bs=65536 skip=30 seek=30 count=1 iflag=direct conv=notrunc status=none
$IOCHECK compare /dev/mapper/c1 /tmp/model.img || fail "the writes to chunk 30 changed its neighbours"

step "a 4 KiB write into an unmapped chunk: the copy fills around it, so the slot is written once"
grep -q '^FAULT vol=1 chunk=31 ' /tmp/resp.log && fail "chunk 31 was written; the step needs it unmapped"
head -c 4096 /dev/urandom >/tmp/w31
before=$(write_sectors "$COW")
dd if=/tmp/w31 of=/dev/mapper/c1 bs=4096 seek=$((31 * 16 + 5)) count=1 oflag=direct status=none ||
	fail "the write to chunk 31 failed"
written=$(($(write_sectors "$COW") - before))
[ "$written" = 128 ] || fail "chunk 31's fill and write put $written sectors on the CoW device, not the chunk's 128"
dd if=/tmp/w31 of=/tmp/model.img bs=4096 seek=$((31 * 16 + 5)) conv=notrunc status=none
$IOCHECK compare /dev/mapper/c1 /tmp/model.img || fail "chunk 31 does not read as the base with its 4 KiB written into it"

step "the module cannot be unloaded while a table uses it"
if rmmod dm_cow 2>/dev/null; then fail "rmmod succeeded with a live cow table"; fi

dmsetup remove c1
stop_responder
[ "$(sha256sum </tmp/base.img | cut -d' ' -f1)" = "$base_sum" ] || fail "the base was written"
rmmod dm_cow || fail "rmmod failed after the table was removed"
step "base unchanged; module unloaded"
