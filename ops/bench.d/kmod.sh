# Kernel-target figures, run inside the VM by ops/bench-kmod, with the test responder for a daemon.
# 1. Fill isolation: volume B's random 4 KiB first writes alone, then while volume A runs
#    sequential 1 MiB first writes, in one boot (the ratio is the figure; absolute numbers under
#    emulation are noise). Every fill is a copy (responder --fill copy), so fills share the
#    module's max_copies slots. Prints "ISOLATION key value" lines.
# 2. Remap memory: kernel memory per committed, not forgotten chunk, from /proc/slabinfo before
#    and after N chunks were written and committed. Prints "REMAPS key value" lines.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
runtime=$1
copies=$2
remaps=$3
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
