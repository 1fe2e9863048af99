# Benchmark matrix, run inside the VM by ops/bench: /dev/vda is the base, /dev/vdb scratch.
# Prints one "BENCH-RESULT config job rep iops bw_kib p50_us p99_us" line per fio run and
# "BENCH-FACT config key value" lines for counts.
. "$DMCOW_ROOT/ops/vm/lib.sh"
reps=$1
runtime=$2
configs=$3
base=/dev/vda
scratch=/dev/vdb
sectors=$(blockdev --getsz $base)
bytes=$((sectors * 512))
chunk=128 # sectors: 64 KiB, the same chunk size for every CoW scheme

modprobe_nbd() { [ -b /dev/nbd0 ] || fail "nbd module not loaded"; }

setup() { # setup CONFIG: make a fresh device, print its path
	case $1 in
	raw) echo $base ;;
	linear)
		dmsetup create bench-linear --table "0 $sectors linear $scratch 0"
		mapper_nodes
		echo /dev/mapper/bench-linear ;;
	snapshot)
		dd if=/dev/zero of=$scratch bs=4096 count=1 oflag=direct status=none
		dmsetup create bench-snap --table "0 $sectors snapshot $base $scratch P $chunk"
		mapper_nodes
		echo /dev/mapper/bench-snap ;;
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
		echo /dev/mapper/bench-thin ;;
	qemu-nbd)
		modprobe_nbd
		mkfs.ext4 -q -F $scratch
		mkdir -p /tmp/scratch
		mount $scratch /tmp/scratch
		qemu-img create -q -f qcow2 -b $base -F raw -o cluster_size=65536 /tmp/scratch/overlay.qcow2
		qemu-nbd -c /dev/nbd0 --cache=none --aio=native -f qcow2 /tmp/scratch/overlay.qcow2
		echo /dev/nbd0 ;;
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

# job CONFIG REP NAME DEVICE FIO-ARGS...: run fio, print its figures
job() {
	config=$1 rep=$2 name=$3 dev=$4
	shift 4
	fio --name="$name" --filename="$dev" --direct=1 --ioengine=libaio --output-format=json \
		--output=/tmp/fio.json "$@" >/dev/null || fail "fio $name on $config failed"
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
for rep in $(seq 1 "$reps"); do
	for config in $configs; do
		step "rep $rep: $config"
		dev=$(setup $config)
		job $config $rep read-untouched $dev --rw=randread --bs=4k --iodepth=16 $timed
		if [ $config != raw ]; then
			job $config $rep randwrite-first $dev --rw=randwrite --bs=4k --iodepth=16 --io_size=$((bytes / 32))
		fi
		teardown $config
		[ $config != raw ] || continue
		dev=$(setup $config)
		job $config $rep seqwrite-first $dev --rw=write --bs=1M --iodepth=8
		job $config $rep rewrite-mapped $dev --rw=randwrite --bs=4k --iodepth=16 $timed
		job $config $rep read-rewritten $dev --rw=randread --bs=4k --iodepth=16 $timed
		teardown $config
		dev=$(setup $config)
		job $config $rep write-fsync $dev --rw=randwrite --bs=4k --iodepth=1 --fsync=1 $timed
		teardown $config
	done
done
step "benchmark done"
