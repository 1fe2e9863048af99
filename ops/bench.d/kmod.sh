# Kernel-target figures, run inside the VM by ops/bench-kmod, with the test responder for a daemon.
# 1. Fill isolation: volume B's random 4 KiB first writes alone, then while volume A runs
#    sequential 1 MiB first writes, in one boot (the ratio is the figure; absolute numbers under
#    emulation are noise). Every fill is a copy (responder --fill copy), so fills share the
#    module's max_copies slots. Prints "ISOLATION key value" lines.
# 2. Flush cost against table size: a guest fsync on a volume whose table is one cow segment, and
#    on one whose table is 1,000 cow segments of the same volume (dm sends an empty flush to every
#    segment), each after a 4 KiB first write; and the same two table sizes with dm-linear, for
#    what dm's own flush to every segment costs. Prints "FSYNC key value" lines.
# 3. Remap memory: kernel memory per committed, not forgotten chunk, from /proc/slabinfo before
#    and after N chunks were written and committed. Prints "REMAPS key value" lines.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
runtime=$1
copies=$2
remaps=$3
fsyncs=$4
gib=$((1024 * 1024 * 1024))
load_dmcow max_copies="$copies"
start_responder resp --fill copy --commit flush

# volume NAME CHUNK_SECTORS: a fresh 1 GiB volume (its own ident, sparse base and CoW files):
# every chunk is a first write.
volume() {
	base=$(make_loop "$1-base.img" $gib zero)
	cow=$(make_loop "$1-cow.img" $gib zero)
	dmsetup create "$1" --table "0 $(sectors "$base") cow $1 $base $cow $2"
	mapper_nodes
}

# b_iops NAME: random 4 KiB writes to volume NAME for $runtime s; prints write IOPS. B's chunks
# are 4 KiB, so nearly every write (at most some 60,000 of 262,144 chunks) is a first write.
b_iops() {
	fio --name=b --filename=/dev/mapper/$1 --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
		--iodepth=16 --time_based --runtime="$runtime" --randrepeat=0 --output-format=terse \
		--terse-version=3 >/tmp/$1.fio || fail "fio on $1: $(cat /tmp/$1.fio)"
	# terse v3: field 49 is the write IOPS
	awk -F';' '{ print $49 }' /tmp/$1.fio
}

step "B alone"
volume b1 8
alone=$(b_iops b1)
b1_copies=$(status_field b1 copies)
sync /dev/mapper/b1
dmsetup remove b1
losetup -D
rm -f /tmp/b1-*.img

step "B while A writes sequentially (64 KiB chunks, one pass over 1 GiB, 2 s ahead)"
volume a2 128
volume b2 8
start=$(date +%s.%N)
fio --name=a --filename=/dev/mapper/a2 --direct=1 --ioengine=libaio --rw=write --bs=1M \
	--iodepth=8 --output-format=terse --terse-version=3 >/tmp/a2.fio 2>&1 &
apid=$!
sleep 2 # A's burst fills the fill queues first
shared=$(b_iops b2)
shared_end=$(date +%s.%N)
wait $apid || fail "fio on a2: $(cat /tmp/a2.fio)"
a_end=$(date +%s.%N)
a_bw=$(awk -F';' '{ print $48 }' /tmp/a2.fio)

echo "ISOLATION max_copies $copies"
echo "ISOLATION b_alone_iops $alone (fills: $b1_copies)"
echo "ISOLATION b_with_a_iops $shared (fills: $(status_field b2 copies))"
echo "ISOLATION a_write_kib_s $a_bw (fills: $(status_field a2 copies); A ran $(awk -v s="$start" -v e="$a_end" 'BEGIN { printf "%.0f", e - s }') s, B's run ended after $(awk -v s="$start" -v e="$shared_end" 'BEGIN { printf "%.0f", e - s }') s)"
echo "ISOLATION ratio $(awk -v s="$shared" -v a="$alone" 'BEGIN { printf "%.2f", a ? s / a : 0 }')"
# committed before the responder goes: a removal waits for commits (up to detach_timeout)
sync /dev/mapper/a2 /dev/mapper/b2
stop_responder
for d in a2 b2; do dmsetup remove $d; done
losetup -D
rm -f /tmp/a2-*.img /tmp/b2-*.img

# fsync_volume NAME SEGMENTS: a fresh volume of 1,000 x 64 KiB with 4 KiB chunks (its own ident,
# sparse base and CoW files), its table SEGMENTS cow segments of equal length.
fsync_volume() {
	base=$(make_loop "$1-base.img" $((1000 * 65536)) zero)
	cow=$(make_loop "$1-cow.img" $((1000 * 65536)) zero)
	awk -v n="$2" -v len=$((1000 * 128 / $2)) -v id="$1" -v b="$base" -v c="$cow" \
		'BEGIN { for (i = 0; i < n; i++) printf "%d %d cow %s %s %s 8\n", i * len, len, id, b, c }' |
		dmsetup create "$1" || fail "creating $1 with $2 segment(s)"
	[ "$(dmsetup table "$1" | grep -c ' cow ')" = "$2" ] || fail "$1 has not $2 cow segments: $(dmsetup table "$1" | head -3)"
	mapper_nodes
}

# fsync_us NAME ROUND: $fsyncs x (4 KiB write + fsync) on device NAME, on its ROUND-th (from 0)
# stretch of $fsyncs blocks (on a fresh cow volume each write is then a whole chunk not written
# before, so each fsync has one uncommitted chunk: FLUSH, then the responder's commit); prints the
# median and the mean fsync time in microseconds and the number of fsyncs (fio makes none after
# the last write).
fsync_us() {
	fio --name=f --filename=/dev/mapper/$1 --direct=1 --ioengine=psync --rw=write --bs=4k \
		--offset=$(($2 * fsyncs * 4096)) --size=$((fsyncs * 4096)) --fsync=1 --output-format=json \
		>/tmp/$1.fio 2>&1 || fail "fio on $1: $(cat /tmp/$1.fio)"
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["jobs"][0]["sync"]
print("%.0f %.0f %d" % (s["lat_ns"]["percentile"]["50.000000"] / 1000, s["lat_ns"]["mean"] / 1000, s["total_ios"]))' /tmp/$1.fio
}

# flushes: FLUSH messages the fsync responder has read so far
flushes() { grep -c '^FLUSH' /tmp/resp3.log || true; }

# fsync_rounds KIND ONE MANY: three rounds of fsync_us on device ONE (1 segment), then on MANY
# (1,000), alternating so that the host's changing load falls on both alike; a line per round and
# the median of the rounds' ratios of medians. KIND cow also counts the FLUSH messages.
fsync_rounds() {
	for r in 0 1 2; do
		n0=$(flushes)
		one=$(fsync_us "$2" $r)
		n1=$(flushes)
		many=$(fsync_us "$3" $r)
		n2=$(flushes)
		set -- "$1" "$2" "$3" $one $many
		ratio=$(awk -v m="$7" -v o="$4" 'BEGIN { printf "%.2f", o ? m / o : 0 }')
		ratios="${ratios:-} $ratio"
		echo "FSYNC $1 round $((r + 1)): 1 segment p50 $4 us (mean $5, $6 fsyncs$([ "$1" != cow ] || echo ", $((n1 - n0)) FLUSH")), 1000 segments p50 $7 us (mean $8, $9 fsyncs$([ "$1" != cow ] || echo ", $((n2 - n1)) FLUSH")), ratio $ratio"
		set -- "$1" "$2" "$3"
	done
	echo "FSYNC ${1}_ratio $(echo $ratios | tr ' ' '\n' | sort -n | sed -n 2p) (median of the rounds' p50 ratios)"
	ratios=
}

step "fsync: 3 x 2 x $fsyncs x (4 KiB first write + fsync), a table of 1 cow segment and one of 1,000"
start_responder resp3 --commit flush
fsync_volume f1 1
fsync_volume f1000 1000
fsync_rounds cow f1 f1000
# the last write's chunk committed before the responder goes (fio's last write has no fsync)
sync /dev/mapper/f1 /dev/mapper/f1000
stop_responder
for d in f1 f1000; do dmsetup remove $d; done
losetup -D
rm -f /tmp/f1-*.img /tmp/f1000-*.img

# dm itself sends an empty flush to every segment of a table: the same on dm-linear tables over one
# loop device, for what 1,000 segments cost without dm-cow.
step "fsync: 3 x 2 x $fsyncs x (4 KiB write + fsync), a dm-linear table of 1 segment and one of 1,000"
lbase=$(make_loop l-base.img $((1000 * 65536)) zero)
for n in 1 1000; do
	awk -v n="$n" -v len=$((1000 * 128 / n)) -v d="$lbase" \
		'BEGIN { for (i = 0; i < n; i++) printf "%d %d linear %s %d\n", i * len, len, d, i * len }' |
		dmsetup create "l$n" || fail "creating l$n with $n linear segment(s)"
done
mapper_nodes
fsync_rounds linear l1 l1000
for d in l1 l1000; do dmsetup remove $d; done
losetup -D
rm -f /tmp/l-base.img

# slab_bytes CACHE: bytes held by a slab cache's active objects. The remap index is an xarray
# (radix_tree_node objects, a cache never merged with others); before, each remap was a 192-byte
# chunk state (sizeof(struct cow_chunk)), which is freed at COMMITTED now.
slab_bytes() {
	awk -v c="$1" '$1 == c { print $2 * $4; found = 1 } END { if (!found) print 0 }' /proc/slabinfo
}

# slab_total: bytes in all slab caches (/proc/meminfo), for a module whose remaps are in a cache
# merged with others (before: the chunk states)
slab_total() {
	awk '$1 == "Slab:" { print $2 * 1024 }' /proc/meminfo
}

step "remap memory: $remaps chunks of 4 KiB written whole (no fill) and committed"
rbytes=$((remaps * 4096))
rbase=$(make_loop r-base.img $rbytes zero)
# written through now, so that its own page cache index (tmpfs) is complete before the count
rcow=$(make_loop r-cow.img $rbytes random)
nodes0=$(slab_bytes radix_tree_node)
slab0=$(slab_total)
dmsetup create r --table "0 $(sectors "$rbase") cow r $rbase $rcow 8"
mapper_nodes
start_responder resp2 --commit flush
dd if=/dev/zero of=/dev/mapper/r bs=1M count=$rbytes iflag=count_bytes oflag=direct conv=fsync status=none || fail "writing r failed"
[ "$(status_field r filled_uncommitted)" = 0 ] || fail "not all committed: $(dmsetup status r)"
nodes1=$(slab_bytes radix_tree_node)
slab1=$(slab_total)
echo "REMAPS chunks $remaps"
echo "REMAPS radix_tree_node_bytes $((nodes1 - nodes0))"
echo "REMAPS bytes_per_remap $(awk -v n=$((nodes1 - nodes0)) -v c="$remaps" 'BEGIN { printf "%.1f", n / c }') (remap index)"
echo "REMAPS slab_bytes_per_remap $(awk -v n=$((slab1 - slab0)) -v c="$remaps" 'BEGIN { printf "%.1f", n / c }') (all slab caches, noise included)"
stop_responder
dmsetup remove r
