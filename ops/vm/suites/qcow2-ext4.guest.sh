# dmcowd serves ext4 on a qcow2 CoW space made by dmcowctl: files written and checked, rebuilt from the qcow2 file alone after a restart; after a clean stop qemu-img check exits 0 and qemu-img compare of the overlay against a dump of the device exits 0. With DIR (ops/vm/suites/qcow2-host): /dev/vda is an ext4 disk holding DIR/base.raw, mounted at DIR, the dump goes to /dev/vdb, and the host runs the final checks.
. "$DMCOW_ROOT/ops/vm/suites/qcow2-lib.sh"
load_dmcow
if [ $# -ge 1 ]; then
	dir=$1
	dump=/dev/vdb
	mount /dev/vda "$dir" || fail "mount /dev/vda $dir failed"
	[ -f "$dir/base.raw" ] || fail "no base.raw on /dev/vda"
else
	dir=/tmp/q
	dump=/tmp/dump.raw
	mkdir -p "$dir"
	step "base: 32 MiB of random data"
	head -c 33554432 /dev/urandom >"$dir/base.raw"
fi
base=$dir/base.raw
cow=$dir/vm1.qcow2
base_sum=$(sha256sum <"$base" | cut -d' ' -f1)

step "CoW space: qcow2, 64k clusters, made by dmcowctl format"
rm -f "$cow"
"$BIN/dmcowctl" format --format qcow2 --base "$base" --cow "$cow" --chunk-size 64k || fail "dmcowctl format failed"
qcow2_config "$base" "$cow"
start_daemon vm1
step "serving: $(dmsetup table vm1 | head -3 | tr '\n' ';')"
if [ "$dump" = /dev/vdb ]; then
	# on ext4 the CoW file's loop device does direct I/O (no second copy in the page cache)
	loop=$(losetup -j "$cow" | cut -d: -f1)
	[ "$(cat "/sys/block/${loop#/dev/}/loop/dio")" = 1 ] || fail "$loop over $cow does not do direct I/O"
	step "$loop over the qcow2 file does direct I/O"
fi
[ "$(dev_sum)" = "$base_sum" ] || fail "the untouched volume does not read as the base"

step "mkfs.ext4, files written, e2fsck clean"
mkfs.ext4 -q -F /dev/mapper/vm1 || fail "mkfs.ext4 failed"
mount /dev/mapper/vm1 /tmp/mnt || fail "mount failed"
head -c 6291456 /dev/urandom >/tmp/mnt/a.bin
dd if=/dev/urandom of=/tmp/mnt/b.bin bs=4k count=700 status=none
sync
(cd /tmp/mnt && sha256sum a.bin b.bin) >/tmp/files.sum
umount /tmp/mnt
e2fsck -fn /dev/mapper/vm1 >/tmp/fsck1.log 2>&1 || fail "e2fsck: $(cat /tmp/fsck1.log)"
sum1=$(dev_sum)

step "SIGTERM: exit 0, the device reads the same; the qcow2 file checks clean"
stop_daemon
[ "$(dev_sum)" = "$sum1" ] || fail "the device changed after the daemon stopped"
qemu-img check -f qcow2 "$cow" >/tmp/check.log 2>&1 || fail "qemu-img check after the first stop exit $?: $(cat /tmp/check.log)"

step "restart with the device rebuilt from the qcow2 file alone: every byte kept, new writes served"
teardown
start_daemon vm1
[ "$(dev_sum)" = "$sum1" ] || fail "the rebuilt device differs from what was written"
mount /dev/mapper/vm1 /tmp/mnt || fail "mount after restart failed"
(cd /tmp/mnt && sha256sum -c --quiet /tmp/files.sum) || fail "files changed across the restart"
head -c 2097152 /dev/urandom >/tmp/mnt/c.bin
sync
(cd /tmp/mnt && sha256sum c.bin) >>/tmp/files.sum
umount /tmp/mnt
e2fsck -fn /dev/mapper/vm1 >/tmp/fsck2.log 2>&1 || fail "e2fsck after restart: $(cat /tmp/fsck2.log)"
stop_daemon

step "the device dumped to $dump; the qcow2 file checked by dmcowctl and qemu-img"
dd if=/dev/mapper/vm1 of="$dump" bs=1M iflag=direct conv=fsync status=none || fail "dump to $dump failed"
mount -o ro /dev/mapper/vm1 /tmp/mnt || fail "mount after the last stop failed"
(cd /tmp/mnt && sha256sum -c --quiet /tmp/files.sum) || fail "files changed after the last stop"
umount /tmp/mnt
teardown "$base" "$cow"
final_checks "$base" "$cow" "$dump"
[ "$(sha256sum <"$base" | cut -d' ' -f1)" = "$base_sum" ] || fail "the base was written"
if [ "$dump" = /dev/vdb ]; then
	umount "$dir" || fail "umount $dir failed"
fi
step "every byte kept, base untouched, the qcow2 file clean and equal to the device"
