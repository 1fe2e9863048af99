# Data leaving dm-cow (#19) with the real daemon and module: a guest's ext4 volume is written, its export refused while it is served, then removed (SIGHUP), exported (qemu-img check clean, QEMU reads the guest's disk through it) and flattened into a new image that mounts with the guest's files, e2fsck clean; a CoW space over the flattened image serves as a new golden base; the first base is never written.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"

load_dmcow
step "a golden base: 128 MiB of ext4 with a file"
mkdir -p /tmp/golden
echo "golden" >/tmp/golden/README
BASE=/tmp/base.img
mkfs.ext4 -q -F -d /tmp/golden "$BASE" 128M >/dev/null || fail "mkfs.ext4 on the base failed"
base_sum=$(sum "$BASE")

step "vm1 served; the guest writes files"
format_spaces vm1:native
write_conf vm1:native
start_daemon vm1
mount /dev/mapper/vm1 /tmp/mnt || fail "mount vm1"
head -c 12582912 /dev/urandom >/tmp/mnt/data.bin
echo "prepared by the guest" >/tmp/mnt/guest.txt
(cd /tmp/mnt && sha256sum README data.bin guest.txt) >/tmp/guest.sums
umount /tmp/mnt
fsck_clean /dev/mapper/vm1
device_sum=$(sum /dev/mapper/vm1)

step "export refused while served"
if dmcowctl export /tmp/vm1.cow --base "$BASE" -o /tmp/vm1.qcow2 >/tmp/refused.log 2>&1; then
	fail "export of a served space succeeded"
fi
grep -q "this command works offline only" /tmp/refused.log || fail "refused otherwise: $(cat /tmp/refused.log)"
[ ! -e /tmp/vm1.qcow2 ] || fail "a refused export wrote /tmp/vm1.qcow2"
echo "   $(cat /tmp/refused.log)"

step "vm1 removed (out of the config, SIGHUP)"
write_conf
kill -HUP "$DPID"
wait_for '[ ! -e /dev/mapper/vm1 ]'

step "export: a qcow2 overlay of the base that QEMU reads as the guest's disk"
dmcowctl export /tmp/vm1.cow --base "$BASE" -o /tmp/vm1.qcow2 || fail "export failed"
qemu-img check /tmp/vm1.qcow2 || fail "qemu-img check on the export: exit $?"
qemu-img info /tmp/vm1.qcow2 | sed 's/^/   /'

step "flatten: one standalone image that mounts with the guest's files"
dmcowctl flatten /tmp/vm1.cow --base "$BASE" -o /tmp/golden2.img || fail "flatten failed"
[ "$(sum /tmp/golden2.img)" = "$device_sum" ] || fail "the flattened image does not read as /dev/mapper/vm1 did"
qemu-img compare /tmp/vm1.qcow2 /tmp/golden2.img || fail "QEMU reads the export otherwise than the guest's disk"
fsck_clean /tmp/golden2.img
mount -o loop,ro /tmp/golden2.img /tmp/mnt || fail "mount the flattened image"
(cd /tmp/mnt && sha256sum -c --quiet /tmp/guest.sums) || fail "the flattened image lost the guest's files"
umount /tmp/mnt
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the first base changed"

step "the flattened image is a new golden base"
BASE=/tmp/golden2.img
format_spaces vm2:native
write_conf vm2:native
kill -HUP "$DPID"
wait_for '[ -b /dev/mapper/vm2 ]'
mount /dev/mapper/vm2 /tmp/mnt || fail "mount vm2"
(cd /tmp/mnt && sha256sum -c --quiet /tmp/guest.sums) || fail "vm2 does not see vm1's files"
echo "a second generation" >/tmp/mnt/vm2.txt
umount /tmp/mnt
fsck_clean /dev/mapper/vm2
stop_daemon
dmsetup remove vm2 || fail "dmsetup remove vm2"
[ "$(sum "$BASE")" = "$device_sum" ] || fail "the new golden base changed"
step "e2e-export complete"
