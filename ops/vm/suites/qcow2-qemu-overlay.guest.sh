# A qcow2 overlay made by qemu-img create -b BASE -F raw and written by qemu-io (data, a partial cluster, plain and allocated zero clusters) is served as it is: QEMU's data reads back through /dev/mapper/vm1, zero clusters read as zeros, untouched chunks as the base; new writes land, and after a clean stop qemu-img check exits 0 and qemu-img compare of the overlay against a dump of the device exits 0. With DIR (ops/vm/suites/qcow2-host): /dev/vda is an ext4 disk holding DIR/base.raw and DIR/vm1.qcow2 made on the host, mounted at DIR; the dump goes to /dev/vdb and the host runs the final checks.
. "$DMCOW_ROOT/ops/vm/suites/qcow2-lib.sh"
load_dmcow
K=1024
M=1048576
if [ $# -ge 1 ]; then
	dir=$1
	dump=/dev/vdb
	mount /dev/vda "$dir" || fail "mount /dev/vda $dir failed"
	[ -f "$dir/base.raw" ] && [ -f "$dir/vm1.qcow2" ] || fail "no base.raw and vm1.qcow2 on /dev/vda"
else
	dir=/tmp/q
	dump=/tmp/dump.raw
	mkdir -p "$dir"
	step "base: 32 MiB of random data; overlay made and written by qemu-img and qemu-io"
	head -c 33554432 /dev/urandom >"$dir/base.raw"
	sh "$DMCOW_ROOT/ops/vm/suites/qcow2-qemu-writes.sh" "$dir/base.raw" "$dir/vm1.qcow2" ||
		fail "qemu-img/qemu-io could not make the overlay"
fi
base=$dir/base.raw
cow=$dir/vm1.qcow2
base_sum=$(sha256sum <"$base" | cut -d' ' -f1)
qemu-img map -f qcow2 "$cow" | sed 's/^/  map: /'
qemu-img convert -f qcow2 -O raw "$cow" /tmp/expected.raw || fail "qemu-img convert failed"

# region OFFSET LENGTH [FILE]: LENGTH bytes at OFFSET of FILE, or of the device (read uncached).
region() {
	if [ $# -ge 3 ]; then
		dd if="$3" bs=4096 skip=$(($1 / 4096)) count=$(($2 / 4096)) status=none
	else
		dd if=/dev/mapper/vm1 bs=4096 skip=$(($1 / 4096)) count=$(($2 / 4096)) iflag=direct status=none
	fi
}
same() { # same OFFSET LENGTH FILE WHAT: the device holds FILE's bytes there
	[ "$(region "$1" "$2" | sha256sum)" = "$(region "$1" "$2" "$3" | sha256sum)" ] || fail "$4"
}
zeros() { # zeros OFFSET LENGTH WHAT
	[ "$(region "$1" "$2" | sha256sum)" = "$(head -c "$2" /dev/zero | sha256sum)" ] || fail "$3"
}

qcow2_config "$base" "$cow"
start_daemon vm1
step "serving: $(dmsetup table vm1 | awk '{print $3}' | sort | uniq -c | tr '\n' ' ')"
zeros $((4 * M)) $((128 * K)) "the plain zero clusters at 4M do not read as zeros"
zeros $((6 * M)) $((64 * K)) "the allocated zero cluster at 6M does not read as zeros"
[ "$(region $M $((64 * K)) | sha256sum)" = "$(head -c $((64 * K)) /dev/zero | tr '\0' '\253' | sha256sum)" ] ||
	fail "QEMU's 0xab cluster at 1M does not read back"
same $((2048 * K)) $((64 * K)) /tmp/expected.raw "the partly written cluster at 2M differs from what QEMU reads"
same $((8 * M)) $((64 * K)) /tmp/expected.raw "the cluster at 8M with a 4k zero write differs from what QEMU reads"
same 0 $M "$base" "chunks 0-15, untouched, do not read as the base"
same $((16 * M)) $((16 * M)) "$base" "the untouched upper half does not read as the base"
[ "$(dev_sum)" = "$(sha256sum </tmp/expected.raw | cut -d' ' -f1)" ] ||
	fail "the device differs from qemu-img convert of the overlay"

step "writes through the device: into a zero cluster, a QEMU data cluster and untouched chunks"
head -c $((8 * K)) /dev/urandom >/tmp/w1
head -c $((200 * K)) /dev/urandom >/tmp/w2
dd if=/tmp/w1 of=/dev/mapper/vm1 bs=4096 seek=$(((4 * M + 16 * K) / 4096)) oflag=direct conv=notrunc status=none
dd if=/tmp/w1 of=/dev/mapper/vm1 bs=4096 seek=$((M / 4096)) oflag=direct conv=notrunc status=none
dd if=/tmp/w2 of=/dev/mapper/vm1 bs=4096 seek=$((20 * M / 4096)) oflag=direct conv=notrunc status=none
sync
sum1=$(dev_sum)
stop_daemon
[ "$(dev_sum)" = "$sum1" ] || fail "the device changed after the daemon stopped"
dd if=/dev/mapper/vm1 of="$dump" bs=1M iflag=direct conv=fsync status=none || fail "dump to $dump failed"
teardown "$base" "$cow"
final_checks "$base" "$cow" "$dump"
qemu-io -r -f qcow2 -c "read -P 0 $((4 * M + 64 * K)) 64k" -c "read -P 0 $((6 * M)) 64k" "$cow" >/tmp/io.log ||
	fail "QEMU does not read the zero clusters as zeros: $(cat /tmp/io.log)"
[ "$(sha256sum <"$base" | cut -d' ' -f1)" = "$base_sum" ] || fail "the base was written"
if [ "$dump" = /dev/vdb ]; then
	umount "$dir" || fail "umount $dir failed"
fi
step "QEMU's overlay served as it is; the file stays clean and equal to the device"
