# Guest side of ops/vm/suites/daemon-kill (argument: CYCLES). dmcowd killed with SIGKILL as soon as it serves plus a short random delay, and restarted, CYCLES times while fio writes random 4 KiB and 64 KiB blocks with crc32c verify on a native and a qcow2 volume: every fio run completes with no I/O error and verifies, and kills come with grants live on both volumes; afterwards e2e checks pass on both CoW spaces.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow
CYCLES=$1

BASE=/tmp/base.img
# A sparse base (reads as zeros) large enough that fio keeps faulting new chunks throughout.
truncate -s 384M "$BASE"
format_spaces k:native:400M q:qcow2
RELOAD_MAPPINGS=256 write_conf k:native q:qcow2
start_daemon k q

# fio runs, one after another, until the kill cycles are done: each writes 12 MiB of random
# blocks at a new offset on both volumes (rate-limited, so the JVM gets CPU to start) and
# verifies them. A run that fails stops the loop and leaves its log.
fio_loop() {
	run=0
	while [ ! -e /tmp/kills-done ]; do
		run=$((run + 1))
		off=$(((run * 12) % 372))m
		bs=4k
		[ $((run % 2)) = 0 ] && bs=64k
		log=/tmp/fio-run$run.log
		if ! fio --rw=randwrite --bs=$bs --iodepth=16 --ioengine=libaio --direct=1 --offset="$off" --size=12m \
			--verify=crc32c --verify_fatal=1 --do_verify=1 --end_fsync=1 --randseed=$run --rate_iops=300 \
			--name=k --filename=/dev/mapper/k --name=q --filename=/dev/mapper/q >"$log" 2>&1 ||
			[ "$(grep -c 'err= 0' "$log")" != 2 ]; then
			echo "$run" >/tmp/fio-failed
			return 1
		fi
		echo "$run" >/tmp/fio-runs
	done
}
fio_loop &
fpid=$!

c=0
live_k=0
live_q=0
t0=$(date +%s)
while [ $c -lt "$CYCLES" ]; do
	c=$((c + 1))
	# 0 to 2.5 s after the daemon serves
	delay=$(od -An -N1 -tu1 /dev/urandom | awk '{ printf "%.1f", $1 % 26 / 10 }')
	sleep "$delay"
	[ ! -e /tmp/fio-failed ] || break
	# grants the daemon made and the kernel holds when it dies: the next daemon must adopt them
	case $(status_field k grants) in '' | 0) ;; *) live_k=$((live_k + 1)) ;; esac
	case $(status_field q grants) in '' | 0) ;; *) live_q=$((live_q + 1)) ;; esac
	kill_daemon
	start_daemon k q
	step "cycle $c: killed ${delay}s after serving, restarted and serving again ($(cat /tmp/fio-runs 2>/dev/null || echo 0) fio runs verified)"
done
touch /tmp/kills-done
rc=0
wait $fpid || rc=$?
if [ -e /tmp/fio-failed ]; then
	r=$(cat /tmp/fio-failed)
	cat /tmp/fio-run$r.log
	fail "fio run $r failed during the kill cycles"
fi
[ $rc = 0 ] || fail "the fio loop exited $rc"
runs=$(cat /tmp/fio-runs 2>/dev/null || echo 0)
step "$c kills in $(($(date +%s) - t0)) s; $runs fio runs, all verified with no I/O error; grants live at $live_k kills on k, $live_q on q"
[ "$live_k" -ge 1 ] && [ "$live_q" -ge 1 ] || fail "no kill came with grants live on both volumes (k $live_k, q $live_q of $c)"
# fio runs back to back from before the first kill to after the last: every kill hit a run.
[ "$runs" -ge 1 ] || fail "no fio run completed"
grep -h 'write: IOPS' /tmp/fio-run*.log | head -2
step "status: $(dmcowctl status | tr -s ' ' | tr '\n' ';')"
k_sum=$(sum /dev/mapper/k)
q_sum=$(sum /dev/mapper/q)
stop_daemon
dmsetup remove k && dmsetup remove q || fail "dmsetup remove"
step "a new daemon rebuilds both devices from the CoW spaces alone: same bytes"
start_daemon k q
[ "$(sum /dev/mapper/k)" = "$k_sum" ] || fail "k differs after the rebuild"
[ "$(sum /dev/mapper/q)" = "$q_sum" ] || fail "q differs after the rebuild"
stop_daemon
rc=0
qemu-img check /tmp/q.cow >/tmp/qcheck.log 2>&1 || rc=$?
step "qemu-img check q: exit $rc: $(tail -3 /tmp/qcheck.log | tr '\n' ' ')"
[ $rc = 0 ] || [ $rc = 3 ] || fail "qemu-img check q: exit $rc: $(cat /tmp/qcheck.log)"
qemu-img compare -f qcow2 -F raw /tmp/q.cow /dev/mapper/q >/dev/null || fail "qemu-img compare: q differs from the device"
dmcowctl check /tmp/k.cow --base "$BASE" || fail "dmcowctl check k"
dmsetup remove k && dmsetup remove q
step "$c SIGKILLs survived"
