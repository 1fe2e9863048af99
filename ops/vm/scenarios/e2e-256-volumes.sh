# 256 volumes (ARG 1: another count; docs/benchmarks.md runs 1,024 as a long test) in one dmcowd with the
# launcher's default JVM options and the default config, native spaces on the guest's tmpfs over
# one 16 MiB base: all serving, then 1 MiB + fsync written to each, 16 volumes at a time, and each
# read back with direct I/O and compared. Prints the start time, the write time and dmcowd's RSS
# (figures, not asserted). A batch of writes, or the reads, taking over ARG 2 seconds (default
# 120; a batch takes a few seconds here) fails the run after printing the daemon's threads,
# dmcowctl status and the kernel's side (dmsetup status and info, blocked tasks), so a stall
# fails fast and shows where it is.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow
N=${1:-256}
STALL=${2:-120}
DMCOWD_JAVA_OPTS=$(dmcowd_default_java_opts)
export DMCOWD_JAVA_OPTS
RELOAD_DELAY=5s # the daemon's default
step "$N volumes; dmcowd JVM options: $DMCOWD_JAVA_OPTS"
BASE=/tmp/base.img
head -c 16777216 /dev/urandom >"$BASE"
format_spaces template:native
names=
i=0
while [ $i -lt "$N" ]; do
	cp --sparse=always /tmp/template.cow /tmp/v$i.cow
	names="$names v$i"
	i=$((i + 1))
done
# shellcheck disable=SC2086
write_conf $(for v in $names; do echo "$v:native"; done)

ms() { echo $(($(date +%s%N) / 1000000)); }
rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$DPID/status"; }

# five descriptors a volume (the CoW file twice, the base once, an image lock on each): above the
# 4,096 the VM's init has for 1,024 volumes; systemd's hard limit is 524,288
ulimit -n 65536 2>/dev/null || step "descriptor limit stays $(ulimit -n): enough for about $(($(ulimit -n) / 5 - 20)) volumes"
t0=$(ms)
# shellcheck disable=SC2086
start_daemon $names
step "$N volumes serving $(((SERVING_AT * 1000 - t0) / 1000)) s after dmcowd started; $(ls /dev/loop[0-9]* | wc -l) loop devices; dmcowd RSS $(rss) MiB"

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

t1=$(ms)
batch "1 MiB + fsync" write_one
t2=$(ms)
step "1 MiB + fsync written to each of $N volumes, 16 at a time, in $((t2 - t1)) ms, $(((t2 - t1) / N)) ms per volume; dmcowd RSS $(rss) MiB"
t3=$(ms)
watchdog "direct reads not done within $STALL s" &
wd=$!
# shellcheck disable=SC2086
read_all $names || fail "direct reads"
kill "$wd"
step "read back with direct I/O and compared in $(($(ms) - t3)) ms; dmcowd RSS $(rss) MiB"
dmcowctl status >/tmp/status.txt || fail "dmcowctl status"
serving=$(grep -c ' serving ' /tmp/status.txt)
[ "$serving" = "$N" ] || fail "dmcowctl status shows $serving of $N serving: $(grep -v ' serving ' /tmp/status.txt)"
stop_daemon
step "$N volumes written with fsync, read back and compared"
