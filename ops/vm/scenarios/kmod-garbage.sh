# Every kind of bad reply from a buggy daemon gets EINVAL (a wrong protocol version EPROTO), FAIL errors the writes, FILL_ZERO zeroes, and the device keeps serving correctly afterwards.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE=$(make_loop base.img 8388608 random)
# Random CoW contents, so that a zero fill that wrote nothing shows.
COW=$(make_loop cow.img 16777216 random)
SIZE=$(sectors "$BASE")
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes

step "a daemon speaking protocol version 2 (older, no DISCARD) is refused with EPROTO"
$RESPONDER --log /tmp/v2.log --hello-version 2 || fail "version-2 responder: $(cat /tmp/v2.log)"
grep -q '^HELLO-REFUSED EPROTO' /tmp/v2.log || fail "version 2 was not refused: $(cat /tmp/v2.log)"
dmesg | grep -q 'device-mapper: cow: daemon speaks protocol version 2, module speaks version 4' || fail "no log line naming both versions"

step "bad replies while a fault is pending"
start_responder resp --garbage --check-busy --fail-chunks 7 --fail-errno 78 --zero-chunks 20 --commit flush
head -c 4096 /dev/urandom >/tmp/w
dd if=/tmp/w of=/dev/mapper/c1 bs=4096 count=1 seek=17 oflag=direct status=none || fail "the write behind the garbage failed"
grep '^GARBAGE' /tmp/resp.log
grep -q '^GARBAGE-DONE passed=3[0-9] failed=0$' /tmp/resp.log || fail "some bad replies were not refused: $(grep UNEXPECTED /tmp/resp.log)"
dd if=/dev/mapper/c1 bs=4096 count=1 skip=17 iflag=direct status=none | cmp -s - /tmp/w || fail "chunk 2 does not read back"

step "FAIL errors the queued write with EIO, even for an errno that is a dm-internal status (EREMCHG)"
if dd if=/tmp/w of=/dev/mapper/c1 bs=4096 count=1 seek=56 oflag=direct status=none 2>/tmp/dd.err; then fail "the write answered with FAIL succeeded"; fi
grep -q 'Input/output error' /tmp/dd.err || fail "FAIL did not give EIO: $(cat /tmp/dd.err)"
grep -q '^-> FAIL vol=1 chunk=7 .*error=78' /tmp/resp.log || fail "no FAIL was sent"

step "FILL_ZERO: the rest of a zero-filled chunk reads as zeros"
dd if=/tmp/w of=/dev/mapper/c1 bs=4096 count=1 seek=161 oflag=direct status=none || fail "write to chunk 20 failed"
{ head -c 4096 /dev/zero; cat /tmp/w; head -c 24576 /dev/zero; } >/tmp/zchunk
dd if=/dev/mapper/c1 bs=4096 count=8 skip=160 iflag=direct status=none | cmp -s - /tmp/zchunk || fail "chunk 20 is not zeros around the write"
[ "$(status_field c1 zero_fills)" = 1 ] || fail "zero fill not counted: $(dmsetup status c1)"

step "the device keeps serving"
for c in 8 9 2; do
	dd if=/tmp/w of=/dev/mapper/c1 bs=4096 count=1 seek=$((c * 8 + 3)) oflag=direct conv=fsync status=none || fail "write to chunk $c failed"
	dd if=/dev/mapper/c1 bs=4096 count=1 skip=$((c * 8 + 3)) iflag=direct status=none | cmp -s - /tmp/w || fail "chunk $c does not read back"
done
step "status: $(dmsetup status c1)"
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "fsync left chunks uncommitted"

step "the module stays loaded while the control device is open"
dmsetup remove c1
if rmmod dm_cow 2>/dev/null; then fail "rmmod succeeded while /dev/dm-cow was open"; fi
stop_responder
rmmod dm_cow || fail "rmmod failed once nothing used the module"
