# dmcowd serves a volume over a file-backed base and native CoW space: mkfs.ext4, files written, e2fsck clean; after SIGTERM (exit 0) the device keeps serving, and a restarted daemon rebuilding the device from the CoW space alone keeps every byte and serves new writes.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

step "base: 64 MiB of random data; CoW space: native, 64k chunks"
head -c 67108864 /dev/urandom >/tmp/base.img
base_sum=$(sha256sum </tmp/base.img | cut -d' ' -f1)
"$BIN/dmcowctl" format --base /tmp/base.img --cow /tmp/vm1.cow --chunk-size 64k --size 160M ||
	fail "dmcowctl format failed"
cat >"$DCONF" <<CONF
dmcow {
  commit-interval = 1s
  admin-socket = /run/dmcow/dmcowd.sock
  reload { max-mappings = 256, max-delay = 2s }
  volumes.vm1 { base = /tmp/base.img, cow = /tmp/vm1.cow, format = native, chunk-size = 64k }
}
CONF

dev_sum() {
	dd if=/dev/mapper/vm1 bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1
}

start_daemon vm1
step "serving: $(dmsetup table vm1 | head -3 | tr '\n' ';')"
[ "$(dev_sum)" = "$base_sum" ] || fail "the untouched volume does not read as the base"

step "mkfs.ext4, files written, e2fsck clean"
mkfs.ext4 -q -F /dev/mapper/vm1 || fail "mkfs.ext4 failed"
mount /dev/mapper/vm1 /tmp/mnt || fail "mount failed"
head -c 12582912 /dev/urandom >/tmp/mnt/a.bin
dd if=/dev/urandom of=/tmp/mnt/b.bin bs=4k count=700 status=none
sync
(cd /tmp/mnt && sha256sum a.bin b.bin) >/tmp/files.sum
umount /tmp/mnt
e2fsck -fn /dev/mapper/vm1 >/tmp/fsck1.log 2>&1 || fail "e2fsck: $(cat /tmp/fsck1.log)"
status=$("$BIN/dmcowctl" status --json)
step "status: $status"
echo "$status" | grep -q '"name":"vm1","state":"serving"' || fail "status --json: $status"
sum1=$(dev_sum)

step "SIGTERM: exit 0, the device stays and reads the same"
stop_daemon
[ "$(dev_sum)" = "$sum1" ] || fail "the device changed after the daemon stopped"
step "table after the last reload: $(dmsetup table vm1 | awk '{print $3}' | sort | uniq -c | tr '\n' ' ')"

step "restart with the device rebuilt from the CoW space alone: every byte kept, new writes served"
dmsetup remove vm1 || fail "dmsetup remove vm1 failed"
start_daemon vm1
[ "$(dev_sum)" = "$sum1" ] || fail "the rebuilt device differs from what was written"
e2fsck -fn /dev/mapper/vm1 >/tmp/fsck2.log 2>&1 || fail "e2fsck after rebuild: $(cat /tmp/fsck2.log)"
mount /dev/mapper/vm1 /tmp/mnt || fail "mount after restart failed"
(cd /tmp/mnt && sha256sum -c --quiet /tmp/files.sum) || fail "files changed across the restart"
head -c 4194304 /dev/urandom >/tmp/mnt/c.bin
sync
c_sum=$(sha256sum </tmp/mnt/c.bin)
umount /tmp/mnt
stop_daemon
mount -o ro /dev/mapper/vm1 /tmp/mnt || fail "mount after the second stop failed"
[ "$(sha256sum </tmp/mnt/c.bin)" = "$c_sum" ] || fail "c.bin changed"
umount /tmp/mnt
[ "$(sha256sum </tmp/base.img | cut -d' ' -f1)" = "$base_sum" ] || fail "the base was written"
dmsetup remove vm1
step "every byte kept; base untouched"
