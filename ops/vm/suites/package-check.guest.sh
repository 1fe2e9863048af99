# Guest side of package-check: with dmcow and dmcow-dkms installed on the host (whose root the
# guest sees), the module DKMS built for this kernel loads, the installed dmcowctl formats a
# native space, the installed dmcowd serves it, dmcowctl status and info report it, and the
# volume reads back what was written and the base where nothing was.
. "$DMCOW_ROOT/ops/vm/lib.sh"
DMCOWD=/usr/sbin/dmcowd
DMCOWCTL=/usr/bin/dmcowctl
# the checkout's class-data sharing archive was dumped for target/dmcow's jars, not these
DMCOW_CDS=
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"

ko=/lib/modules/$KVER/updates/dkms/dm-cow.ko
step "insmod $ko (built by DKMS on the host)"
[ -f "$ko" ] || fail "DKMS installed no module for $KVER: $(ls -R "/lib/modules/$KVER/updates" 2>&1)"
insmod "$ko" || fail "insmod $ko failed"
[ -c /dev/dm-cow ] || fail "the DKMS-built module made no /dev/dm-cow"

BASE=/tmp/base.img
head -c 33554432 /dev/urandom >"$BASE"
step "$DMCOWCTL format; $DMCOWD serves volume a"
format_spaces a:native:48M
write_conf a:native
start_daemon a

step "write 4 MiB at 8 MiB, read the volume back"
head -c 4194304 /dev/urandom >/tmp/data
dd if=/tmp/data of=/dev/mapper/a bs=1M seek=8 oflag=direct conv=fsync status=none || fail "writing /dev/mapper/a"
dd if=/dev/mapper/a bs=1M skip=8 count=4 iflag=direct status=none | cmp -s - /tmp/data ||
	fail "/dev/mapper/a does not read back what was written"
head -c 8388608 "$BASE" >/tmp/base-head
dd if=/dev/mapper/a bs=1M count=8 iflag=direct status=none | cmp -s - /tmp/base-head ||
	fail "the unwritten first 8 MiB of /dev/mapper/a do not read as the base"

step "$DMCOWCTL status (a serving, the 64 chunks of 64 KiB written mapped)"
dmcowctl status >/tmp/status.txt 2>&1 || fail "dmcowctl status exits $?: $(cat /tmp/status.txt)"
cat /tmp/status.txt
awk '$1 == "a" && $2 == "serving" && $3 == 64 { found = 1 } END { exit !found }' /tmp/status.txt ||
	fail "dmcowctl status does not show a serving with 64 chunks mapped"

stop_daemon
step "$DMCOWCTL info (after the daemon's clean stop: the 64 chunks committed in the space)"
dmcowctl info --json /tmp/a.cow >/tmp/info.json || fail "dmcowctl info --json /tmp/a.cow failed"
cat /tmp/info.json
grep -q '"used_chunks":64[,}]' /tmp/info.json || fail "the space does not hold the 64 chunks written"
step "the installed packages served a volume"
