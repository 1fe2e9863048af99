# Many volumes in one dmcowd, as a host with many small guests runs it: for each count in ARG 1
# (default "16 256+api", in that order, in this one boot so the per-volume rates compare; 1024 is
# the long test in docs/benchmarks.md), that many native volumes over one 16 MiB base, CoW files on
# the guest's tmpfs, the launcher's default JVM options and the default config: all serving, then
# 1 MiB + fsync written to each, 16 volumes at a time, each read back with direct I/O and compared,
# all serving in dmcowctl status, a clean stop. A count written N+api starts dmcowd with no volume
# and adds the N one by one through the admin socket's add op (as a toolstack does), each written
# (64 KiB + fsync past the first MiB) and read back as soon as it is added, dmcowd's RSS printed as
# they come.
# Prints per count the start time, the write time per volume and dmcowd's RSS, and at the end each
# count's per-volume write rate against the first count's (figures: the goal for 256 against 16 is
# at least 0.5). Asserted, because they are behaviour and not time:
#  - dmcowd's RSS stays within 200 MiB at 256 volumes or fewer (it was 376 MiB with the 256 MiB
#    heap preallocated);
#  - its start reads at most 1 MiB a volume from files, plus 64 MiB for the JVM (a native space's
#    whole journal region was read once: 2 GiB at 256 volumes).
# A batch of writes, or the reads, taking over ARG 2 seconds (default 120; a batch takes a few
# seconds here) fails the run after printing the daemon's threads, dmcowctl status and the kernel's
# side (dmsetup status and info, blocked tasks), so a stall fails fast and shows where it is.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow
COUNTS=${1:-16 256+api}
STALL=${2:-120}
DMCOWD_JAVA_OPTS=$(dmcowd_default_java_opts)
export DMCOWD_JAVA_OPTS
RELOAD_DELAY=5s # the daemon's default
step "volume counts: $COUNTS; dmcowd JVM options: $DMCOWD_JAVA_OPTS"
BASE=/tmp/base.img
head -c 16777216 /dev/urandom >"$BASE"
format_spaces template:native

ms() { echo $(($(date +%s%N) / 1000000)); }
rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$DPID/status"; }
# read_mib: what dmcowd has read from files and devices so far (read(2) and friends), in MiB
read_mib() { awk '/^rchar/ { print int($2 / 1048576) }' "/proc/$DPID/io"; }

# five descriptors a volume (the CoW file twice, the base once, an image lock on each): above the
# 4,096 the VM's init has for 1,024 volumes; systemd's hard limit is 524,288
ulimit -n 65536 2>/dev/null || step "descriptor limit stays $(ulimit -n): enough for about $(($(ulimit -n) / 5 - 20)) volumes"

# diagnose: what a stall looks like from the daemon and from the kernel
diagnose() {
	echo "--- dmcowd threads ---"
	jcmd "$DPID" Thread.print 2>&1 | grep -v '^$'
	echo "--- dmcowctl status ---"
	dmcowctl status 2>&1
	echo "--- dmsetup status (the kernel's counters per volume) ---"
	dmsetup status 2>&1
	echo "--- dmsetup info (suspended, table loaded but not live) ---"
	dmsetup info -c -o name,attr,open,segments,events 2>&1
	echo "--- blocked tasks (in the kernel log) ---"
	echo w >/proc/sysrq-trigger
	dmesg | tail -n 200
}

# watchdog MESSAGE: after $STALL s, shows the state of things and ends the scenario with MESSAGE
# (it sleeps in the background and is stopped with SIGTERM when the batch finished in time).
watchdog() {
	sleep "$STALL" &
	nap=$!
	trap 'kill $nap; exit 0' TERM
	wait $nap
	diagnose
	echo "FAIL: $1" >&2
	kill -TERM $$
}

# batch WHAT JOB: runs "JOB VOLUME" for each volume, 16 at a time; a batch that does not finish
# within $STALL s is a stall.
batch() {
	n=0
	running=
	for v in $names; do
		$2 "$v" >"/tmp/$v.err" 2>&1 &
		running="$running $!:$v"
		n=$((n + 1))
		[ $((n % 16)) = 0 ] || [ $n = "$N" ] || continue
		watchdog "$1: a batch of 16 volumes up to $v not done within $STALL s" &
		wd=$!
		for j in $running; do
			wait "${j%%:*}" || fail "$1 ${j#*:}: $(cat "/tmp/${j#*:}.err")"
		done
		kill "$wd"
		running=
	done
}

# data VOLUME: the MiB written to VOLUME: its name, then random bytes the same for all
head -c 1048576 /dev/urandom >/tmp/random.data
data() {
	printf '%-4096s' "$1"
	tail -c +4097 /tmp/random.data
}
write_one() {
	data "$1" | dd of="/dev/mapper/$1" bs=1M iflag=fullblock oflag=direct conv=fsync status=none
}
# read_all VOLUME...: reads each back with direct I/O and compares, in one process (a few
# processes per volume cost more than the reads under emulation)
read_all() {
	python3 - "$@" <<'PY'
import mmap, os, sys
common = open("/tmp/random.data", "rb").read()
buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
bad = []
for v in sys.argv[1:]:
    fd = os.open("/dev/mapper/" + v, os.O_RDONLY | os.O_DIRECT)
    try:
        n = os.readv(fd, [buf])
    finally:
        os.close(fd)
    if n != len(common) or buf[:4096] != v.encode().ljust(4096) or buf[4096:] != common[4096:]:
        bad.append(v)
if bad:
    sys.exit("these volumes read back other data: " + " ".join(bad))
PY
}

# add_each VOLUME...: each added through the admin socket's add op, one after the other, then
# 64 KiB + fsync written at 2 MiB and read back with direct I/O; dmcowd's RSS every 64 volumes
add_each() {
	python3 - "$DPID" "$BASE" "$@" <<'PY'
import json, mmap, os, socket, sys, time
pid, base, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
buf = mmap.mmap(-1, 65536)
times = []
for i, v in enumerate(names, 1):
    t = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.connect("/run/dmcow/dmcowd.sock")
    s.sendall((json.dumps({"op": "add", "volume": v, "base": base, "cow": "/tmp/%s.cow" % v,
                           "format": "native", "chunk_size": "64k", "wait_ms": 120000}) + "\n").encode())
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    s.close()
    times.append(time.monotonic() - t)
    a = json.loads(answer)
    if a.get("outcome") != "added":
        sys.exit("add %s (the %dth): %s" % (v, i, answer.decode().strip()))
    data = (v.ljust(64) * 1024).encode()
    buf[:] = data
    fd = os.open("/dev/mapper/" + v, os.O_RDWR | os.O_DIRECT)
    try:
        if os.pwritev(fd, [buf], 2 << 20) != 65536:
            sys.exit("a short write to " + v)
        os.fsync(fd)
        buf[:] = bytes(65536)
        if os.preadv(fd, [buf], 2 << 20) != 65536 or buf[:] != data:
            sys.exit("%s reads back other data right after its add" % v)
    finally:
        os.close(fd)
    if i % 64 == 0 or i == len(names):
        times.sort()
        print("== %d volumes added, written and read back; add: median %.2f s, longest %.2f s; dmcowd RSS %d MiB"
              % (i, times[len(times) // 2], times[-1], rss()), flush=True)
PY
}

# run_set N[+api]: N fresh volumes wN-0... in a fresh dmcowd (from its config, or added through the
# admin socket): start, write, read back, stop. Leaves the per-volume write time in MS_PER_VOLUME.
run_set() {
	N=${1%+api}
	names=
	i=0
	while [ $i -lt "$N" ]; do
		cp --sparse=always /tmp/template.cow "/tmp/w$N-$i.cow"
		names="$names w$N-$i"
		i=$((i + 1))
	done
	t0=$(ms)
	if [ "$1" = "$N" ]; then
		# shellcheck disable=SC2086
		write_conf $(for v in $names; do echo "$v:native"; done)
		# shellcheck disable=SC2086
		start_daemon $names
	else
		write_conf
		rm -rf /tmp/volumes.d /run/dmcow/dmcowd.sock
		echo 'dmcow.volumes-dir = "/tmp/volumes.d"' >>"$DCONF"
		start_daemon
		wait_for "[ -S /run/dmcow/dmcowd.sock ]" 300 1
		step "dmcowd started with no volume in $((($(ms) - t0) / 1000)) s, RSS $(rss) MiB; adding $N through the admin socket"
		# shellcheck disable=SC2086
		add_each $names || fail "adding the volumes one by one"
		[ "$(ls /tmp/volumes.d | wc -l)" = "$N" ] || fail "$(ls /tmp/volumes.d | wc -l) files in volumes.d for $N added volumes"
		SERVING_AT=$(date +%s)
	fi
	started_rss=$(rss)
	started_read=$(read_mib)
	step "$N volumes serving $(((SERVING_AT * 1000 - t0) / 1000)) s after dmcowd started; $(ls /dev/loop[0-9]* | wc -l) loop devices; dmcowd RSS $started_rss MiB; it read $started_read MiB to start"
	[ "$started_read" -le $((N + 64)) ] ||
		fail "dmcowd read $started_read MiB to start $N volumes: more than 1 MiB a volume plus 64 MiB"
	t1=$(ms)
	batch "1 MiB + fsync" write_one
	t2=$(ms)
	MS_PER_VOLUME=$(((t2 - t1) / N))
	written_rss=$(rss)
	step "1 MiB + fsync written to each of $N volumes, 16 at a time, in $((t2 - t1)) ms, $MS_PER_VOLUME ms per volume; dmcowd RSS $written_rss MiB"
	t3=$(ms)
	watchdog "direct reads not done within $STALL s" &
	wd=$!
	# shellcheck disable=SC2086
	read_all $names || fail "direct reads"
	kill "$wd"
	step "read back with direct I/O and compared in $(($(ms) - t3)) ms; dmcowd RSS $(rss) MiB"
	if [ "$N" -le 256 ]; then
		for r in $started_rss $written_rss $(rss); do
			[ "$r" -le 200 ] || fail "dmcowd's RSS reached $r MiB with $N volumes: over 200 MiB"
		done
	fi
	dmcowctl status >/tmp/status.txt || fail "dmcowctl status"
	serving=$(grep -c ' serving ' /tmp/status.txt)
	[ "$serving" = "$N" ] || fail "dmcowctl status shows $serving of $N serving: $(grep -v ' serving ' /tmp/status.txt)"
	stop_daemon
	step "$N volumes written with fsync, read back and compared"
}

# remove_set: the last set's devices, loop devices and files go, so the next count starts from the
# same host
remove_set() {
	t=$(ms)
	# shellcheck disable=SC2086
	dmsetup remove $names || fail "dmsetup remove after the $N-volume run"
	# shellcheck disable=SC2046
	detach_loops $(for v in $names; do echo "/tmp/$v.cow"; done) "$BASE"
	rm -f /tmp/w"$N"-*.cow
	step "$N devices and their loop devices removed in $(($(ms) - t)) ms"
}

figures=
for count in $COUNTS; do
	[ -z "$figures" ] || remove_set
	run_set "$count"
	figures="$figures $N:$MS_PER_VOLUME"
done
first=${figures# }
first=${first%% *}
first_n=${first%%:*}
first_ms=${first#*:}
for f in $figures; do
	# a rate is volumes per second: the ratio of rates is the inverse ratio of the times
	step "per-volume write rate at ${f%%:*} volumes: $(awk -v a="$first_ms" -v b="${f#*:}" 'BEGIN { printf "%.2f", a / b }') of the rate at $first_n (${f#*:} ms against $first_ms ms)"
done
