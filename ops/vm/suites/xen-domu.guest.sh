# Guest script of ops/vm/suites/xen-domu, run in a Xen 4.17 PV dom0 (ops/vm/run --xen): Xen's
# modules, the real xenstored, xen-init-dom0 and xenconsoled; dmcowd serves volume v1; a tiny PV
# domU (Debian's kernel, a busybox initramfs with xen-blkfront) gets v1 through
#   disk = ['vdev=xvda,access=rw,script=block-dmcow,target=v1']
# with Xen's real hotplug scripts beside ops/xen/block-dmcow in /etc/xen/scripts. The domU reads
# the volume's first MiB (the base's, never written) and writes a line at sector 2048 with an
# fsync; dom0 then finds the line on /dev/mapper/v1 and not in the base, the backend's
# physical-device is v1's major:minor, a second domain asking for v1 read-write is refused naming
# the first, and after the domU is destroyed v1 still serves with the line on it.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
[ -n "${DMCOW_XEN:-}" ] || fail "run with ops/vm/run --xen: no DMCOW_XEN"
KROOT=$(dirname "$DMCOW_XEN")/kernel-$KVER

# modules NAME...: load kernel modules with their dependencies from the cached image (the guest's
# modprobe is off); built-in and loaded ones are skipped.
modules() {
	for m in "$@"; do
		modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		mod=$(basename "$ko" .ko)
		[ -d "/sys/module/$(echo "$mod" | tr - _)" ] || insmod "$ko" || fail "insmod $ko"
	done
}

step "Xen dom0: modules, xenfs"
grep -q . /sys/hypervisor/type 2>/dev/null && [ "$(cat /sys/hypervisor/type)" = xen ] ||
	fail "not running on Xen (/sys/hypervisor/type: $(cat /sys/hypervisor/type 2>&1))"
modules xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc xen-blkback overlay
load_dmcow
mount -t xenfs xenfs /proc/xen
grep -q control_d /proc/xen/capabilities || fail "not dom0: /proc/xen/capabilities: $(cat /proc/xen/capabilities)"

# Xen's tools as if installed: the host's root is read-only, so /etc, /var/lib and /var/log get a
# writable layer over them (overlayfs) holding /etc/xen (Xen's scripts and block-dmcow),
# /var/lib/xen and /var/log/xen.
for d in /etc /var/lib /var/log; do
	mkdir -p "/tmp/layer$d/upper" "/tmp/layer$d/work"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=/tmp/layer$d/upper,workdir=/tmp/layer$d/work" "$d" ||
		fail "overlay over $d"
done
cp -a "$DMCOW_XEN/etc/xen" /etc/
cp "$DMCOW_ROOT/ops/xen/block-dmcow" /etc/xen/scripts/block-dmcow
mkdir -p /var/lib/xen /var/log/xen/console /run/xen /run/xenstored /run/lock
export LD_LIBRARY_PATH=$DMCOW_XEN/usr/lib/x86_64-linux-gnu
export PATH=$DMCOW_XEN/usr/lib/xen-4.17/bin:$DMCOW_XEN/usr/bin:$PATH
# block-dmcow runs the checkout's dmcowctl (the hotplug scripts inherit xl's environment)
export DMCOWCTL

step "xenstored, xen-init-dom0, xenconsoled"
xenstored --pid-file /run/xenstored.pid || fail "xenstored did not start"
xen-init-dom0 || fail "xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console || fail "xenconsoled did not start"
xl info | grep -E '^(xen_version|total_memory|free_memory)' || fail "xl info failed"

step "dmcowd serves v1"
BASE=/tmp/base.img
head -c 67108864 /dev/urandom >"$BASE"
base_md5=$(md5sum <"$BASE" | cut -d' ' -f1)
first_mib=$(head -c 1048576 "$BASE" | md5sum | cut -d' ' -f1)
format_spaces v1:native
write_conf v1:native
start_daemon v1
mm=$(stat -L -c '%t:%T' /dev/mapper/v1)

step "the domU's initramfs: busybox and xen-blkfront"
mkdir -p /tmp/domu/bin /tmp/domu/proc /tmp/domu/sys /tmp/domu/dev
cp /bin/busybox /tmp/domu/bin/busybox
: >/tmp/domu/modules
modprobe -d "$KROOT" -S "$KVER" --show-depends xen-blkfront | awk '$1 == "insmod" { print $2 }' | while read -r ko; do
	cp "$ko" /tmp/domu/
	basename "$ko" >>/tmp/domu/modules
done
cat >/tmp/domu/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r ko; do insmod "/$ko"; done </modules
n=0
while [ ! -b /dev/xvda ] && [ $n -lt 60 ]; do sleep 1; n=$((n + 1)); done
echo "DOMU xvda sectors $(cat /sys/block/xvda/size)"
echo "DOMU first MiB $(dd if=/dev/xvda bs=65536 count=16 2>/dev/null | md5sum | cut -d' ' -f1)"
printf 'written by a Xen domU through block-dmcow\n' | dd of=/dev/xvda bs=512 seek=2048 conv=sync,notrunc,fsync 2>/dev/null &&
	echo "DOMU wrote sector 2048"
echo "DOMU done"
while :; do sleep 60; done
INIT
chmod +x /tmp/domu/init
(cd /tmp/domu && find . | cpio -o -H newc --quiet | gzip -1) >/tmp/domu.cpio.gz

# domain_cfg NAME: a PV domain of Debian's kernel and that initramfs, with v1 as xvda
domain_cfg() {
	cat <<CFG
name = "$1"
type = "pv"
kernel = "$KROOT/boot/vmlinuz-$KVER"
ramdisk = "/tmp/domu.cpio.gz"
extra = "console=hvc0 loglevel=4"
memory = 160
vcpus = 1
disk = ['vdev=xvda,access=rw,script=block-dmcow,target=v1']
on_poweroff = "destroy"
on_crash = "preserve"
CFG
}
domain_cfg domu >/tmp/domu.cfg
domain_cfg domu2 >/tmp/domu2.cfg

step "xl create domu (disk through block-dmcow)"
out=$(xl create /tmp/domu.cfg 2>&1) || fail "xl create domu: $out"
# domu_log: what Xen and the domU said, for a failure message
domu_log() {
	echo "xl create: $out"
	xl list 2>&1
	tail -n 20 /var/log/xen/xl-domu.log 2>&1
	tr -d '\r' </var/log/xen/console/guest-domu.log 2>&1 | tail -n 30
	xl dmesg 2>&1 | tail -n 10
}
domid=$(xl domid domu) || fail "no domain domu after xl create: $(domu_log)"
be=/local/domain/0/backend/vbd/$domid/51712
pd=$(xenstore-read "$be/physical-device") || fail "no $be/physical-device"
[ "$pd" = "$mm" ] || fail "physical-device is $pd, /dev/mapper/v1 is $mm"
# libxl may return before the script's last xenstore write lands (a loaded run read it unset,
# then "connected" in the failure message): wait up to 30 s for it
i=0
until [ "$(xenstore-read "$be/hotplug-status" 2>/dev/null)" = connected ]; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "hotplug-status: $(xenstore-read "$be/hotplug-status" 2>&1)"
	sleep 0.1
done
step "physical-device $pd, hotplug-status connected; waiting for the domU"
clog=/var/log/xen/console/guest-domu.log
i=0
until grep -q 'DOMU done' "$clog" 2>/dev/null; do
	i=$((i + 2))
	[ $i -le 900 ] || fail "the domU did not finish in 900 s: $(domu_log)"
	# state flags r b p s c d: a crashed domU (kept by on_crash = preserve) fails at once; another
	# status is the poll's own tools failing (awk died of SIGSEGV once in dom0 under emulation):
	# polled again
	rc=0
	xl list domu 2>/dev/null | awk 'NR == 2 && $5 ~ /c/ { exit 1 }' || rc=$?
	[ $rc != 1 ] || fail "the domU crashed: $(domu_log)"
	sleep 2
done
cat "$clog" | tr -d '\r' | grep '^DOMU'
grep -q "DOMU xvda sectors 131072" "$clog" || fail "the domU's xvda is not v1's 64 MiB: $(grep DOMU "$clog")"
grep -q "DOMU first MiB $first_mib" "$clog" || fail "the domU read a first MiB that is not the base's"
grep -q "DOMU wrote sector 2048" "$clog" || fail "the domU's write failed"

step "a second domain asking for v1 read-write is refused"
rc=0; out=$(xl create /tmp/domu2.cfg 2>&1) || rc=$?
[ $rc != 0 ] || fail "xl create domu2 with v1 in use succeeded: $out"
echo "$out" | grep -q "in use by another guest (domain $domid)" || fail "domu2's refusal does not name domain $domid: $out"
! xl domid domu2 >/dev/null 2>&1 || fail "domain domu2 exists after its refusal"

step "the line is on v1, not in the base"
dd if=/dev/mapper/v1 bs=512 skip=2048 count=1 iflag=direct 2>/dev/null | grep -q "written by a Xen domU through block-dmcow" ||
	fail "the domU's line is not at sector 2048 of /dev/mapper/v1"
[ "$(md5sum <"$BASE" | cut -d' ' -f1)" = "$base_md5" ] || fail "the base changed"

step "xl destroy domu: v1 keeps serving, with the line"
xl destroy domu || fail "xl destroy domu"
wait_for "! xenstore-read $be/physical-device >/dev/null 2>&1" 120 1
dmcowctl list | grep -q "^v1  *serving" || fail "v1 does not serve after the domain went: $(dmcowctl list 2>&1)"
dd if=/dev/mapper/v1 bs=512 skip=2048 count=1 iflag=direct 2>/dev/null | grep -q "written by a Xen domU through block-dmcow" ||
	fail "the line is gone from v1 after the domain went"
stop_daemon
step "PASS"
