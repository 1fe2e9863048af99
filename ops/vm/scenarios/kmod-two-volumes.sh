# Two volumes with different idents, written concurrently through one daemon, each read back only their own data.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# 8 MiB + 24 KiB each: 129 chunks of 64 KiB, the last one partial.
BASE1=$(make_loop base1.img 8413184 random)
BASE2=$(make_loop base2.img 8413184 random)
COW1=$(make_loop cow1.img 16777216 zero)
COW2=$(make_loop cow2.img 16777216 zero)
SIZE=$(sectors "$BASE1")
start_responder resp --commit flush
dmsetup create a --table "0 $SIZE cow vola $BASE1 $COW1 128"
dmsetup create b --table "0 $SIZE cow volb $BASE2 $COW2 128"
mapper_nodes
wait_log /tmp/resp.log '^VOLUME vol=2 ident=volb' || fail "no VOLUME for volb: $(cat /tmp/resp.log)"

step "the same write pattern, different data, on both volumes at once"
$IOCHECK pattern /dev/mapper/a /tmp/base1.img 128 1 /tmp/model1.img >/tmp/pa.log 2>&1 &
pa=$!
$IOCHECK pattern /dev/mapper/b /tmp/base2.img 128 2 /tmp/model2.img >/tmp/pb.log 2>&1 &
pb=$!
wait $pa || fail "volume a: $(cat /tmp/pa.log)"
wait $pb || fail "volume b: $(cat /tmp/pb.log)"
grep -q '^FAULT vol=1 ' /tmp/resp.log && grep -q '^FAULT vol=2 ' /tmp/resp.log || fail "faults missing for a volume"

step "after both finished, each volume reads exactly its own image"
$IOCHECK compare /dev/mapper/a /tmp/model1.img || fail "volume a differs from its own writes"
$IOCHECK compare /dev/mapper/b /tmp/model2.img || fail "volume b differs from its own writes"
cmp -s /tmp/model1.img /tmp/model2.img && fail "the two images are identical, the check proves nothing"
step "a: $(dmsetup status a)"
step "b: $(dmsetup status b)"

step "removing one volume sends VOLUME_GONE and leaves the other serving"
dmsetup remove b
wait_log /tmp/resp.log '^VOLUME_GONE vol=2' || fail "no VOLUME_GONE for volb"
$IOCHECK compare /dev/mapper/a /tmp/model1.img || fail "volume a changed after b was removed"
dmsetup remove a
stop_responder
