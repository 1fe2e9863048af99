# A removal waiting for the daemon's commits sleeps through a storm of non-fatal signals it handles (no busy loop: its CPU time stays near zero) and still ends when COMMITTED arrives.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE=$(make_loop base.img 4194304 random)
COW=$(make_loop cow.img 8388608 zero)
SIZE=$(sectors "$BASE")
# Commits come 20 s after each FLUSH: the removal waits that long.
start_responder resp --commit flush --commit-delay 20
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 64"
mapper_nodes
dd if=/dev/urandom of=/dev/mapper/c1 bs=4096 count=1 seek=9 oflag=direct status=none || fail "write failed"
[ "$(status_field c1 filled_uncommitted)" = 1 ] || fail "expected 1 uncommitted chunk: $(dmsetup status c1)"

# cpu PID: the task's user + system time, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

step "remove c1 from a process that handles SIGUSR1, and send it SIGUSR1 every 0.1 s for 4 s"
python3 "$KT/remove-with-handler.py" c1 >/tmp/rm.out 2>&1 &
rm_pid=$!
wait_log /tmp/resp.log '^FLUSH vol=1 ' || fail "no FLUSH: the removal does not wait for commits"
kill -USR1 $rm_pid
sleep 0.5
grep -Eq "^(SigPnd|ShdPnd):.*[2367abef]..\$" "/proc/$rm_pid/status" ||
	fail "SIGUSR1 is not pending on the task in the kernel: $(grep -E 'Pnd|State' /proc/$rm_pid/status | tr '\n' ' ')"
cpu0=$(cpu $rm_pid)
t0=$(date +%s.%N)
end=$(($(date +%s) + 4))
while [ "$(date +%s)" -lt $end ]; do
	kill -USR1 $rm_pid 2>/dev/null || break
	sleep 0.1
done
kill -0 $rm_pid 2>/dev/null || fail "the removal ended before the commit was due: $(cat /tmp/rm.out)"
cpu1=$(cpu $rm_pid)
t1=$(date +%s.%N)
ticks=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 100 }')
step "CPU time of the waiting task: $((cpu1 - cpu0)) ticks in $ticks ticks of wall time"
[ $((cpu1 - cpu0)) -le $((ticks / 10)) ] || fail "the waiting task spun: $((cpu1 - cpu0)) of $ticks ticks on the CPU"
grep -q '^-> COMMITTED' /tmp/resp.log && fail "committed already: the wait did not last"

step "the removal ends once COMMITTED arrives"
wait_gone $rm_pid 60 || fail "the removal did not end within 60 s of the commit being due"
wait $rm_pid || fail "the removal failed: $(cat /tmp/rm.out)"
step "$(cat /tmp/rm.out)"
grep -q 'SIGUSR1 handled [1-9]' /tmp/rm.out || fail "the signals never reached the task: $(cat /tmp/rm.out)"
c=$(grep -n '^-> COMMITTED vol=1 chunk=1$' /tmp/resp.log | head -1 | cut -d: -f1)
g=$(grep -n '^VOLUME_GONE vol=1' /tmp/resp.log | head -1 | cut -d: -f1)
[ -n "$c" ] && [ -n "$g" ] && [ "$c" -lt "$g" ] || fail "the volume did not go after the commit: $(cat /tmp/resp.log)"
dmesg | grep 'removed with .* filled chunks' && fail "removed without the commit"
dmsetup mknodes >/dev/null 2>&1 || true
stop_responder
