# dm-cow serves reads from the base and writes of every size and offset from the CoW device, with one fault per chunk, no copy for whole-chunk writes, and the base untouched.
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

step "a discard of an unmapped chunk changes nothing"
blkdiscard -o 0 -l 65536 /dev/mapper/c1 2>/dev/null || step "(the stack does not advertise discard)"
$IOCHECK compare /dev/mapper/c1 /tmp/model.img || fail "data changed after a discard of an unmapped chunk"

step "the module cannot be unloaded while a table uses it"
if rmmod dm_cow 2>/dev/null; then fail "rmmod succeeded with a live cow table"; fi

dmsetup remove c1
stop_responder
[ "$(sha256sum </tmp/base.img | cut -d' ' -f1)" = "$base_sum" ] || fail "the base was written"
rmmod dm_cow || fail "rmmod failed after the table was removed"
step "base unchanged; module unloaded"
