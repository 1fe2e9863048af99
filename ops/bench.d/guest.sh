# Benchmark matrix, run inside the VM by ops/bench: /dev/vda is the base, /dev/vdb scratch,
# /dev/vdc, /dev/vdd and /dev/vde more scratch for dm-cow's native spaces.
# Prints one "BENCH-RESULT config job rep iops bw_kib p50_us p99_us" line per fio run and
# "BENCH-FACT config key rep value" lines for counts.
. "$DMCOW_ROOT/ops/vm/lib.sh"
reps=$1
runtime=$2
configs=$3
profiler=${4:-} # libasyncProfiler.so: profile dmcowd during each dm-cow job (ops/bench --profile)
base=/dev/vda
scratch=/dev/vdb
sectors=$(blockdev --getsz $base)
bytes=$((sectors * 512))
chunk=128 # sectors: 64 KiB, the same chunk size for every CoW scheme
# dmcowd with the launcher's JVM options, not e2e-lib's quick-start settings (C1 only under
# software emulation: see dmcowd_default_java_opts)
bench_java_opts=$(dmcowd_default_java_opts)
DMCOWD_JAVA_OPTS=$bench_java_opts
export DMCOWD_JAVA_OPTS
BASE=$base
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
case " $configs " in *" cow-"*) load_dmcow ;; esac
# the daemon's defaults for commits and reloads
COMMIT_INTERVAL=1s RELOAD_MAPPINGS=1024 RELOAD_DELAY=5s
cowvol=bench-cow # volumes bench-cow1..4, one per phase; vol: this phase's
# the native spaces, one per phase
scratches="$scratch /dev/vdc /dev/vdd /dev/vde"
# the dmcowd volumes of a configuration: one per phase, then the warm-up volume
cowvols="${cowvol}1 ${cowvol}2 ${cowvol}3 ${cowvol}4 bench-warm"

modprobe_nbd() { [ -b /dev/nbd0 ] || fail "nbd module not loaded"; }

# scratch_fs: an ext4 on the scratch disk at /tmp/scratch, its tables written now so that no
# lazy init competes with the measured I/O
scratch_fs() {
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 $scratch
	mkdir -p /tmp/scratch
	mount $scratch /tmp/scratch
}

# cow_start FORMAT: format one CoW space per phase (see the loop below) over the base and start
# one dmcowd serving them as $cowvol1..4 (and a warm-up volume, see warm_up): JVM starts in
# parallel and one daemon start instead of many in a row. A native space is a whole scratch disk, as dm-snapshot and dm-thin
# get one (the space's name is a link: the config names spaces by volume); qcow2 spaces are
# files on an ext4 on the first scratch disk, as for qemu-nbd.
# Suffixes of FORMAT: -faults, grants off (dmcow.grant-window = 0), every first write a FAULT;
# -wN, grant windows of N chunks; -pN, at most N threads (and cores) for Pekko's default dispatcher.
cow_start() {
	unset GRANT_WINDOW
	DMCOWD_JAVA_OPTS=$bench_java_opts
	format=${1%%-*}
	for suffix in $(echo "${1#"$format"}" | tr - ' '); do
		case $suffix in
		faults) export GRANT_WINDOW=0 ;;
		w[0-9]*) export GRANT_WINDOW=${suffix#w} ;;
		p[0-9]*) DMCOWD_JAVA_OPTS="$DMCOWD_JAVA_OPTS -Dpekko.actor.default-dispatcher.fork-join-executor.parallelism-max=${suffix#p}" ;;
		*) fail "unknown configuration cow-$1" ;;
		esac
	done
	set -- "$format"
	if [ "$1" = native ]; then
		COWDIR=/tmp/cowdev
		mkdir -p $COWDIR
		k=0
		for d in $scratches; do
			k=$((k + 1))
			ln -sfn $d $COWDIR/$cowvol$k.cow
		done
	else
		COWDIR=/tmp/scratch
		scratch_fs
	fi
	rm -f $COWDIR/bench-warm.cow
	spaces=$(for v in $cowvols; do printf '%s:%s ' $v $1; done)
	FORCE=1 format_spaces $spaces
	write_conf $spaces
	start_daemon $cowvols
	warm_up
}

# warm_up: a daemon on a host runs for months; a freshly started JVM interprets and compiles its
# hot paths first, which under emulation takes tens of seconds. So the fault path (placements,
# copies, commits, reloads) runs on a fourth volume first, until its table reload has happened,
# and before it the commit path, a write + fsync at a time, while most chunks are unwritten: with
# the random writes alone, C1 compiled the commit path during the measured write + fsync job
# (a fifth of the daemon's CPU there, in a profile).
warm_up() {
	fio --name=warm-fsync --filename=/dev/mapper/bench-warm --direct=1 --ioengine=libaio --rw=randwrite \
		--bs=4k --iodepth=1 --fsync=1 --time_based --runtime=10 >/dev/null || fail "warm-up fio (fsync) failed"
	fio --name=warm --filename=/dev/mapper/bench-warm --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
		--iodepth=16 --time_based --runtime=20 >/dev/null || fail "warm-up fio failed"
	wait_for "folded bench-warm" 300
}

# cow_stop: the daemon's peak RSS, a clean stop, the devices removed
cow_stop() {
	fact $1 $2 peak_rss_mib "$(awk '/^VmHWM:/ { print int($2 / 1024) }' /proc/$DPID/status)"
	stop_daemon
	# space files only: native spaces here are links to whole disks, with no loop device
	for v in $cowvols; do
		dmsetup remove $v
		if [ -f $COWDIR/$v.cow ]; then detach_loops $COWDIR/$v.cow; fi
	done
	rm -f $COWDIR/bench-warm.cow
	case $1 in cow-qcow2*) umount /tmp/scratch ;; esac
}

setup() { # setup CONFIG: make a fresh device, set dev to its path
	case $1 in
	raw) dev=$base ;;
	linear)
		dmsetup create bench-linear --table "0 $sectors linear $scratch 0"
		mapper_nodes
		dev=/dev/mapper/bench-linear ;;
	snapshot)
		dd if=/dev/zero of=$scratch bs=4096 count=1 oflag=direct status=none
		dmsetup create bench-snap --table "0 $sectors snapshot $base $scratch P $chunk"
		mapper_nodes
		dev=/dev/mapper/bench-snap ;;
	thin)
		meta=131072 # 64 MiB of metadata
		data=$(($(blockdev --getsz $scratch) - meta))
		dd if=/dev/zero of=$scratch bs=4096 count=1 oflag=direct status=none
		dmsetup create bench-meta --table "0 $meta linear $scratch 0"
		dmsetup create bench-data --table "0 $data linear $scratch $meta"
		mapper_nodes
		dmsetup create bench-pool --table "0 $data thin-pool /dev/mapper/bench-meta /dev/mapper/bench-data $chunk 0 1 skip_block_zeroing"
		mapper_nodes
		dmsetup message bench-pool 0 "create_thin 0"
		dmsetup create bench-origin --table "0 $sectors thin /dev/mapper/bench-pool 0"
		mapper_nodes
		dd if=$base of=/dev/mapper/bench-origin bs=1M iflag=direct oflag=direct status=none
		dmsetup suspend bench-origin
		dmsetup message bench-pool 0 "create_snap 1 0"
		dmsetup resume bench-origin
		dmsetup create bench-thin --table "0 $sectors thin /dev/mapper/bench-pool 1"
		mapper_nodes
		dev=/dev/mapper/bench-thin ;;
	qemu-nbd)
		modprobe_nbd
		scratch_fs
		qemu-img create -q -f qcow2 -b $base -F raw -o cluster_size=65536 /tmp/scratch/overlay.qcow2
		mkdir -p /run/lock # qemu-nbd -c locks /var/lock/qemu-nbd-nbd0; /run is empty in the VM
		qemu-nbd -c /dev/nbd0 --cache=none --aio=native -f qcow2 /tmp/scratch/overlay.qcow2
		dev=/dev/nbd0 ;;
	cow-*)
		phase=$((phase + 1))
		vol=$cowvol$phase
		dev=/dev/mapper/$vol ;;
	*) fail "unknown config $1" ;;
	esac
}

teardown() {
	case $1 in
	raw) ;;
	linear) dmsetup remove bench-linear ;;
	snapshot) dmsetup remove bench-snap ;;
	thin) for d in bench-thin bench-origin bench-pool bench-data bench-meta; do dmsetup remove $d; done ;;
	qemu-nbd)
		qemu-nbd -d /dev/nbd0 >/dev/null
		umount /tmp/scratch ;;
	esac
}

# fills NAME: chunks the kernel has filled for a dm-cow volume since it was created, i.e. the
# FAULT messages it sent (one per chunk first written; there is no replay without a restart).
fills() {
	dmsetup status "$1" | awk -v all=$((sectors / chunk)) '
		$3 == "cow" && !n++ { for (i = 4; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
		END { print n ? f["copies"] + f["nocopy_fills"] + f["zero_fills"] : all }'
}

# faults NAME: the FAULT messages a dm-cow volume sent since it was created (a granted first
# write sends none)
faults() {
	dmsetup status "$1" | awk '$3 == "cow" && !n++ { for (i = 4; i <= NF; i++) if ($i ~ /^faults=/) print substr($i, 8) }'
}

# folded NAME: every chunk the kernel filled is committed and in a mapped segment of the live
# table, i.e. the daemon's table reload after the last first write has happened
folded() {
	st=$(dmsetup status "$1" | awk '$3 == "cow"' | head -1)
	[ -n "$st" ] || return 0
	case $st in *" filled_uncommitted=0 faults_pending=0 copies_in_flight=0 "*) ;; *) return 1 ;; esac
	[ "$(dmsetup table "$1" | awk -v c=$chunk '$3 == "cow" && $9 == "mapped" { n += int(($2 + c - 1) / c) } END { print n + 0 }')" = "$(fills "$1")" ]
}

# fact CONFIG REP KEY VALUE
fact() {
	echo "BENCH-FACT $1 $3 $2 $4"
}

# table_facts CONFIG REP: mapped segments of the live table against the fewest possible (runs
# of chunks adjacent in the volume, wherever the CoW space put them)
table_facts() {
	dmsetup table $vol | awk -v config=$1 -v rep=$2 '
		$3 == "cow" && $9 == "mapped" { if (!n++ || $1 != end) runs++; end = $1 + $2 }
		END { printf "BENCH-FACT %s segments %s %d\nBENCH-FACT %s minimal_runs %s %d\n", config, rep, n, config, rep, runs }'
}

# daemon_cpu_ms: CPU time dmcowd has used so far (user + system; the guest's clock ticks are 10 ms)
daemon_cpu_ms() {
	awk '{ print ($14 + $15) * 10 }' /proc/$DPID/stat
}

# profile start|stop: with a profiler, dmcowd's CPU profile over one job (async-profiler, attached
# with jcmd: every thread, Java and native and kernel frames), printed as "BENCH-PROFILE CONFIG JOB
# REP SAMPLES STACK" lines of collapsed stacks (ops/bench writes them to target/bench/profiles/)
profile() {
	[ -n "$profiler" ] || return 0
	if [ $1 = start ]; then
		jcmd $DPID JVMTI.agent_load "$profiler" "\"start,event=cpu,interval=1ms,threads\"" >/tmp/profile.jcmd 2>&1 ||
			fail "async-profiler did not start: $(cat /tmp/profile.jcmd)"
		return 0
	fi
	rm -f /tmp/profile.txt
	jcmd $DPID JVMTI.agent_load "$profiler" "\"stop,file=/tmp/profile.txt,collapsed\"" >/tmp/profile.jcmd 2>&1 &&
		[ -s /tmp/profile.txt ] || fail "async-profiler did not stop: $(cat /tmp/profile.jcmd)"
	awk -v p="BENCH-PROFILE $config $name $rep" '{ n = $NF; $NF = ""; print p, n, $0 }' /tmp/profile.txt
}

# job CONFIG REP NAME DEVICE FIO-ARGS...: run fio, print its figures (for dm-cow also the CPU time
# the daemon used meanwhile: under emulation it is taken from fio's vCPUs)
job() {
	config=$1 rep=$2 name=$3 dev=$4
	shift 4
	case $config in cow-*) cpu0=$(daemon_cpu_ms); profile start ;; esac
	fio --name="$name" --filename="$dev" --direct=1 --ioengine=libaio --output-format=json \
		--output=/tmp/fio.json "$@" >/dev/null || fail "fio $name on $config failed"
	case $config in cow-*)
		job_cpu_ms=$(($(daemon_cpu_ms) - cpu0))
		fact $config $rep daemon_cpu_ms_$name $job_cpu_ms
		profile stop ;;
	esac
	python3 - "$config" "$name" "$rep" <<'PY'
import json, sys
config, name, rep = sys.argv[1:4]
j = json.load(open("/tmp/fio.json"))["jobs"][0]
side = j["write"] if j["write"]["io_bytes"] > 0 else j["read"]
pct = side.get("clat_ns", {}).get("percentile", {})
p50 = pct.get("50.000000", 0) / 1000
p99 = pct.get("99.000000", 0) / 1000
print(f"BENCH-RESULT {config} {name} {rep} {side['iops']:.0f} {side['bw']} {p50:.0f} {p99:.0f}", flush=True)
PY
}

timed="--time_based --runtime=$runtime"

# first_write_log DEVICE: /tmp/first-writes.iolog, fio's replay of a 4 KiB write then an fsync to
# half the device's chunks, each once, in a random order (the same in every run). The timed write +
# fsync job above mixes first writes and rewrites, more of the cheaper rewrites the faster a
# device is; here every iteration pays for a new chunk (fio's random offsets repeat chunks).
first_write_log() {
	python3 - "$1" $((bytes / (chunk * 512))) $((chunk * 512)) >/tmp/first-writes.iolog <<'PY'
import random, sys
dev, chunks, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
order = list(range(chunks))
random.Random(17).shuffle(order)
print("fio version 2 iolog")
print(dev, "add")
print(dev, "open")
for c in order[: chunks // 2]:
    print(dev, "write", c * size, 4096)
    print(dev, "sync", 0, 0)
print(dev, "close")
PY
}
# cow_facts CONFIG REP JOB BYTES: after a first-write job on dm-cow, wait for the table reload
# and record the FAULT messages per GiB written
cow_facts() {
	case $1 in cow-*) ;; *) return 0 ;; esac
	wait_for "folded $vol" 300
	fact $1 $2 faults_per_gib_$3 $(($(faults $vol) * 1073741824 / $4))
	fact $1 $2 fills_per_gib_$3 $(($(fills $vol) * 1073741824 / $4))
	# the daemon's CPU during the job (job_cpu_ms) per chunk it filled
	fact $1 $2 daemon_cpu_us_per_chunk_$3 $((job_cpu_ms * 1000 / $(fills $vol)))
}

for rep in $(seq 1 "$reps"); do
	for config in $configs; do
		step "rep $rep: $config"
		phase=0
		case $config in cow-*) cow_start ${config#cow-} ;; esac
		setup $config
		job $config $rep read-untouched $dev --rw=randread --bs=4k --iodepth=16 $timed
		if [ $config != raw ]; then
			job $config $rep randwrite-first $dev --rw=randwrite --bs=4k --iodepth=16 --io_size=$((bytes / 32))
			cow_facts $config $rep randwrite $((bytes / 32))
			case $config in cow-*) table_facts $config $rep ;; esac
		fi
		teardown $config
		[ $config != raw ] || continue
		setup $config
		job $config $rep seqwrite-first $dev --rw=write --bs=1M --iodepth=8
		# dm-cow rewrites chunks through the mapped segments of the reloaded table
		cow_facts $config $rep seqwrite $bytes
		job $config $rep rewrite-mapped $dev --rw=randwrite --bs=4k --iodepth=16 $timed
		job $config $rep read-rewritten $dev --rw=randread --bs=4k --iodepth=16 $timed
		teardown $config
		setup $config
		job $config $rep write-fsync $dev --rw=randwrite --bs=4k --iodepth=1 --fsync=1 $timed
		teardown $config
		setup $config
		first_write_log $dev
		job $config $rep first-write-fsync $dev --read_iolog=/tmp/first-writes.iolog --replay_no_stall=1
		teardown $config
		case $config in cow-*) cow_stop $config $rep ;; esac
	done
done
step "benchmark done"
