# A fault the attached daemon leaves unanswered for answer_timeout seconds is named once in the kernel log (volume and chunk); answer_timeout=0 names none.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow answer_timeout=0

BASE=$(make_loop base.img 4194304 random)
COW=$(make_loop cow.img 8388608 zero)
SIZE=$(sectors "$BASE")
start_responder resp --hold-faults
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes
line='device-mapper: cow: volume vol1: the daemon has left the fault on chunk 5 unanswered for'

step "a write to chunk 5 waits for an answer that does not come; answer_timeout=0 says nothing"
dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek=$((5 * 8 + 1)) oflag=direct status=none &
w=$!
wait_log /tmp/resp.log '^FAULT vol=1 chunk=5 ' || fail "no FAULT for chunk 5: $(cat /tmp/resp.log)"
sleep 3
dmesg | grep -q "left the fault" && fail "a warning with answer_timeout=0: $(dmesg | grep 'left the fault')"

step "answer_timeout=2: the fault, 3 s old, is named once"
echo 2 >/sys/module/dm_cow/parameters/answer_timeout
i=0
until dmesg | grep -q "$line 2 s (1 faults pending)"; do
	i=$((i + 1))
	[ $i -le 50 ] || fail "no warning naming volume vol1 and chunk 5: $(dmesg | tail -5)"
	sleep 0.1
done
sleep 3
[ "$(dmesg | grep -c "$line")" = 1 ] || fail "the warning was repeated: $(dmesg | grep 'left the fault')"
kill -0 $w 2>/dev/null || fail "the write ended without an answer"

step "with the daemon gone the write fails after detach_timeout"
echo 1 >/sys/module/dm_cow/parameters/detach_timeout
stop_responder
wait_gone $w 30 || fail "the write did not end"
if wait $w; then fail "the write succeeded without an answer"; fi
dmsetup remove c1
