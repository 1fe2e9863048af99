# When flushing the CoW device fails at removal, the kernel sends no FLUSH (the daemon must not commit remaps whose data may be lost): the volume goes at once, logged as removed with its uncommitted chunks.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# The CoW device is a loop device over a file on ext4 on a dm device that is switched to the
# error target: the loop device's flush (fsync of the file) then fails with EIO.
LOWER=$(make_loop lower.img 67108864 zero)
LSIZE=$(sectors "$LOWER")
dmsetup create lower --table "0 $LSIZE linear $LOWER 0" || fail "create lower failed"
mapper_nodes
mkfs.ext4 -q /dev/mapper/lower || fail "mkfs.ext4 failed"
mkdir -p /tmp/mnt
mount -t ext4 /dev/mapper/lower /tmp/mnt || fail "mount failed"
truncate -s 8M /tmp/mnt/cow.img
COW=$(losetup -f --show /tmp/mnt/cow.img)
BASE=$(make_loop base.img 4194304 random)
SIZE=$(sectors "$BASE")
start_responder resp --commit flush
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes
dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek=9 oflag=direct status=none || fail "write failed"
[ "$(status_field c1 filled_uncommitted)" = 1 ] || fail "expected 1 uncommitted chunk: $(dmsetup status c1)"

step "the file's filesystem loses its device (its dirty pages stay unwritten)"
dmsetup suspend --nolockfs lower && dmsetup load lower --table "0 $LSIZE error" && dmsetup resume lower ||
	fail "switching lower to the error target failed"

step "remove c1: the CoW flush fails"
timeout 60 dmsetup remove c1 || fail "the removal did not end within 60 s"
wait_log /tmp/resp.log '^VOLUME_GONE vol=1' || fail "no VOLUME_GONE"
grep -q '^FLUSH' /tmp/resp.log && fail "FLUSH sent after the CoW device's flush failed: $(cat /tmp/resp.log)"
grep -q '^-> COMMITTED' /tmp/resp.log && fail "a chunk was committed after the CoW device's flush failed"
dmesg | grep -q 'cow: volume vol1: flushing the CoW device before removal failed: -5' ||
	fail "no log line for the failed flush: $(dmesg | grep cow: | tail -5)"
dmesg | grep -q 'cow: volume vol1: removed with 1 filled chunks the daemon did not commit' ||
	fail "the removal did not say it left a chunk uncommitted"
stop_responder
losetup -d "$COW" 2>/dev/null || true
umount -l /tmp/mnt 2>/dev/null || true
