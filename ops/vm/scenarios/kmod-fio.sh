# fio random 4 KiB writes at iodepth 32 (libaio, direct) with crc32c verify pass on a dm-cow device served by an auto-mapping responder; prints IOPS for first writes, rewrites and plain dm-linear.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE=$(make_loop base.img 67108864 random)
COW=$(make_loop cow.img 134217728 zero)
PLAIN=$(make_loop plain.img 33554432 zero)
SIZE=$(sectors "$BASE")
start_responder resp --commit flush
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 128"
dmsetup create lin --table "0 $(sectors "$PLAIN") linear $PLAIN 0"
mapper_nodes

# run_fio NAME DEV [FIO_ARGS]: random writes over 32 MiB (the first, unless FIO_ARGS say
# otherwise), then verify; prints the write IOPS.
run_fio() {
	name=$1
	dev=$2
	shift 2
	fio --name="$name" --filename="$dev" "$@" --rw=randwrite --bs=4k --iodepth=32 --ioengine=libaio \
		--direct=1 --size=32m --verify=crc32c --verify_fatal=1 --do_verify=1 --end_fsync=1 \
		--randseed=42 >"/tmp/fio-$name.log" 2>&1 || { cat "/tmp/fio-$name.log"; fail "fio $name failed"; }
	grep -q 'err= 0' "/tmp/fio-$name.log" || { cat "/tmp/fio-$name.log"; fail "fio $name reported errors"; }
	grep -o 'write: IOPS=[^,]*' "/tmp/fio-$name.log" | head -1
}

step "first writes (512 chunks fault, copy and fill): $(run_fio first /dev/mapper/c1)"
step "status: $(dmsetup status c1)"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "end_fsync left chunks uncommitted: $(dmsetup status c1)"
faults=$(grep -c '^FAULT' /tmp/resp.log)
[ "$faults" = 512 ] || fail "expected 512 faults (one per 64 KiB chunk of 32 MiB), got $faults"
step "rewrites of filled chunks: $(run_fio rewrite /dev/mapper/c1)"
[ "$(grep -c '^FAULT' /tmp/resp.log)" = 512 ] || fail "rewrites of filled chunks faulted again"
step "plain dm-linear on a loop device: $(run_fio linear /dev/mapper/lin)"

step "the untouched second half still reads as the base"
dd if=/tmp/base.img of=/tmp/base-half bs=1M skip=32 status=none
dd if=/dev/mapper/c1 bs=1M skip=32 iflag=direct status=none | cmp -s - /tmp/base-half || fail "the second half differs from the base"

step "table reloads (load, suspend, resume) while fio faults new chunks in the second half"
# Rate-limited so that faults are still arriving while the reloads run.
run_fio storm /dev/mapper/c1 --offset=32m --rate_iops=500 >/tmp/storm.out &
storm=$!
sleep 1
for i in 1 2 3; do
	kill -0 $storm 2>/dev/null || fail "fio ended before reload $i: $(cat /tmp/storm.out)"
	echo "0 $SIZE cow vol1 $BASE $COW 128" | dmsetup load c1 || fail "load $i failed"
	timeout 120 dmsetup suspend c1 || fail "suspend $i did not complete"
	dmsetup resume c1 || fail "resume $i failed"
	sleep 1
done
wait $storm || fail "fio during reloads failed: $(cat /tmp/storm.out)"
kill -0 $storm 2>/dev/null && fail "fio still running"
step "fio during 3 reloads verified: $(cat /tmp/storm.out)"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
dmsetup remove c1
stop_responder
dmsetup remove lin
