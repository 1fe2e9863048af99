# A read() of /dev/dm-cow into memory the kernel cannot write loses no message: a buffer with no writable byte gets EFAULT, one with room for the first message gets that message, and the next read returns the rest, in order.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE=$(make_loop base.img 4194304 random)
COW=$(make_loop cow.img 8388608 zero)
SIZE=$(sectors "$BASE")

# 8 bad reads, alternately partial and unmapped, each when a message waits: on HELLO, the
# replay, VOLUME and the first faults. A lost HELLO or REPLAY_DONE leaves the responder
# never ready; a lost VOLUME, FAULT or FILLED leaves a write or the sync waiting.
start_responder resp --commit flush --bad-reads 8
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes
step "4 writes to 4 chunks, then sync"
for c in 1 2 3 4; do
	head -c 4096 /dev/urandom >/tmp/w$c
	timeout 30 dd if=/tmp/w$c of=/dev/mapper/c1 bs=4096 count=1 seek=$((c * 8 + 3)) oflag=direct status=none ||
		fail "the write to chunk $c did not complete within 30 s: $(grep -v '^->' /tmp/resp.log | tr '\n' ';')"
done
timeout 30 sync /dev/mapper/c1 || fail "sync did not complete within 30 s"
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "not committed after sync: $(dmsetup status c1)"
for c in 1 2 3 4; do
	dd if=/dev/mapper/c1 bs=4096 count=1 skip=$((c * 8 + 3)) iflag=direct status=none | cmp -s - /tmp/w$c ||
		fail "chunk $c does not read back"
done
step "bad reads: $(grep '^BAD-READ' /tmp/resp.log | tr '\n' ';')"
[ "$(grep -c '^BAD-READ' /tmp/resp.log)" = 8 ] || fail "expected 8 bad reads: $(cat /tmp/resp.log)"
[ "$(grep -c '^BAD-READ unmapped EFAULT$' /tmp/resp.log)" = 4 ] || fail "a read into an unmapped page did not get EFAULT"
[ "$(grep -c '^BAD-READ partial returned 128$' /tmp/resp.log)" = 4 ] || fail "a read with room for one message did not return it"
for what in '^HELLO ' '^VOLUME vol=1 ident=vol1 ' '^REPLAY_DONE'; do
	[ "$(grep -c "$what" /tmp/resp.log)" = 1 ] || fail "expected one $what: $(cat /tmp/resp.log)"
done
for c in 1 2 3 4; do
	[ "$(grep -c "^FAULT vol=1 chunk=$c " /tmp/resp.log)" = 1 ] && [ "$(grep -c "^FILLED vol=1 chunk=$c " /tmp/resp.log)" = 1 ] ||
		fail "expected one FAULT and one FILLED for chunk $c: $(cat /tmp/resp.log)"
done
dmsetup remove c1 || fail "remove failed"
wait_log /tmp/resp.log '^VOLUME_GONE vol=1' || fail "no VOLUME_GONE"
stop_responder
