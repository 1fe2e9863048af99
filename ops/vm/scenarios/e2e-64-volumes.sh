# 64 volumes served by one dmcowd over one 16 MiB base (32 native spaces, 32 qcow2 overlays made by qemu-img create, 128 loop devices made through /dev/loop-control): fio writes and verifies each; after a clean stop and a rebuild of all 64 devices from their CoW spaces, every block verifies again and the base is unchanged.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow
export DMCOWD_JAVA_OPTS="-Xms128m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
N=64
step "loop devices before: $(ls /dev/loop[0-9]* 2>/dev/null | wc -l) (max_loop=$(cat /sys/module/loop/parameters/max_loop))"

BASE=/tmp/base.img
head -c 16777216 /dev/urandom >"$BASE"
base_sum=$(sum "$BASE")
format_spaces template:native:24M
vols=
i=0
while [ $i -lt $N ]; do
	if [ $((i % 2)) = 0 ]; then
		cp --sparse=always /tmp/template.cow /tmp/v$i.cow
		vols="$vols v$i:native"
	else
		qemu-img create -q -f qcow2 -o cluster_size=64k -b "$BASE" -F raw /tmp/v$i.cow || fail "qemu-img create v$i"
		vols="$vols v$i:qcow2"
	fi
	i=$((i + 1))
done
# shellcheck disable=SC2086
write_conf $vols
names=$(echo "$vols" | sed 's/:[a-z0-9]*//g')
t0=$(date +%s)
# shellcheck disable=SC2086
start_daemon $names
step "$N volumes serving $(($(date +%s) - t0)) s after the daemon started; loop devices now: $(ls /dev/loop[0-9]* | wc -l)"

# One fio with a job per volume: 64 KiB and 4 KiB random writes over 4 MiB of each, then verify.
fio_all() {
	args=
	for v in $names; do
		args="$args --name=$v --filename=/dev/mapper/$v"
	done
	# shellcheck disable=SC2086
	fio --rw=randwrite --bsrange=4k-64k --iodepth=4 --ioengine=libaio --direct=1 --size=4m \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --end_fsync=1 --randseed=64 "$@" $args >/tmp/fio.log 2>&1 ||
		{ tail -40 /tmp/fio.log; fail "fio $* failed"; }
	ok=$(grep -c 'err= 0' /tmp/fio.log)
	[ "$ok" = $N ] || { tail -40 /tmp/fio.log; fail "fio $*: $ok of $N jobs without error"; }
}
fio_all
step "fio wrote and verified all $N volumes"
dmcowctl status >/tmp/status.txt || fail "dmcowctl status"
serving=$(grep -c ' serving ' /tmp/status.txt)
[ "$serving" = $N ] || fail "dmcowctl status shows $serving of $N serving: $(cat /tmp/status.txt)"
head -4 /tmp/status.txt
stop_daemon

step "rebuild all $N devices from their CoW spaces alone; verify again"
for v in $names; do
	dmsetup remove "$v" || fail "dmsetup remove $v"
done
# shellcheck disable=SC2086
start_daemon $names
fio_all --verify_only
stop_daemon
bad=0
for v in $names; do
	case $vols in
	*" $v:qcow2"*)
		qemu-img check -q /tmp/$v.cow || bad=$((bad + 1))
		;;
	esac
	dmsetup remove "$v"
done
[ $bad = 0 ] || fail "qemu-img check failed on $bad overlays"
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"
step "$N volumes written, verified, rebuilt and verified again; qcow2 overlays check clean"
