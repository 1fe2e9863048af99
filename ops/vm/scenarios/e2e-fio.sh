# fio with verify=crc32c, random 4 KiB and 64 KiB writes at iodepth 16 (libaio, direct), on a native and on a qcow2 volume served by dmcowd that reloads its tables every 64 mappings during the write storm: no I/O error, every block verifies, the reloads complete (counted, segments reported), and after a clean stop the qcow2 overlay passes qemu-img check and compares equal to the device.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

BASE=/tmp/base.img
head -c 67108864 /dev/urandom >"$BASE"
base_sum=$(sum "$BASE")
format_spaces n:native:96M q:qcow2
RELOAD_MAPPINGS=64 RELOAD_DELAY=500ms write_conf n:native q:qcow2
start_daemon n q

# run_fio VOLUME BS OFFSET: random writes of BS over 24 MiB from OFFSET (mostly first writes to
# chunks, so faults, copies and commits), then a verify pass over what was written.
run_fio() {
	log=/tmp/fio-$1-$2.log
	fio --name="$1-$2" --filename=/dev/mapper/$1 --rw=randwrite --bs="$2" --iodepth=16 --ioengine=libaio \
		--direct=1 --offset="$3" --size=24m --verify=crc32c --verify_fatal=1 --do_verify=1 --end_fsync=1 \
		--randseed=7 >"$log" 2>&1 || { cat "$log"; fail "fio $1 bs=$2 failed"; }
	grep -q 'err= 0' "$log" || { cat "$log"; fail "fio $1 bs=$2 reported errors"; }
	step "$1 bs=$2 at $3: $(grep -o 'write: IOPS=[^,]*, BW=[^ ]*' "$log" | head -1), verified; $1: $(segments $1)"
}
# reloads VOLUME: table reloads the daemon has completed for it.
reloads() {
	dmcowctl status --json | tr '{' '\n' | grep "\"name\":\"$1\"" | sed 's/.*"reloads":\([0-9]*\).*/\1/'
}
for v in n q; do
	r0=$(reloads $v)
	run_fio $v 4k 0
	run_fio $v 64k 32m
	r1=$(reloads $v)
	step "$v: $((r1 - r0)) table reloads completed during the two write storms"
	[ $((r1 - r0)) -ge 4 ] || fail "$v: only $((r1 - r0)) reloads during 768 new chunks at max-mappings 64"
	# rewrites of chunks already mapped, now mostly through mapped segments
	run_fio $v 4k 0
done
step "status: $(dmcowctl status | tr -s ' ' | tr '\n' ';')"
dmcowctl status --json | grep -q '"faults_pending":0' || fail "faults still pending"
n_sum=$(sum /dev/mapper/n)
q_sum=$(sum /dev/mapper/q)
stop_daemon
step "tables after the last reload: n $(segments n); q $(segments q)"
[ "$(sum /dev/mapper/n)" = "$n_sum" ] && [ "$(sum /dev/mapper/q)" = "$q_sum" ] || fail "a device changed across the stop"
qemu-img check /tmp/q.cow >/tmp/qcheck.log 2>&1 || fail "qemu-img check q: $(cat /tmp/qcheck.log)"
qemu-img compare -f qcow2 -F raw /tmp/q.cow /dev/mapper/q >/dev/null || fail "qemu-img compare: q's overlay differs from the device"
dmcowctl check /tmp/n.cow --base "$BASE" >/dev/null || fail "dmcowctl check n: $(dmcowctl check /tmp/n.cow --base "$BASE")"
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"
dmsetup remove n && dmsetup remove q
step "fio verify passed on native and qcow2"
