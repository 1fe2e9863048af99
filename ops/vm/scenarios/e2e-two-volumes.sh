# Two volumes (native and qcow2) over one base: mkfs.ext4 on each, distinct files, e2fsck -fn clean, the base unchanged, each volume sees only its files; dmcowctl metrics and GET /metrics (dmcow.metrics.listen) count faults, fills and commits for both; still so after the daemon's own table reloads and after a daemon restart that rebuilds both devices from the CoW spaces alone, under other device numbers, which then serve new writes; after SIGTERM (exit 0) the devices keep serving the same bytes (restarts adopting live devices: the daemon-kill suite).
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

BASE=/tmp/base.img
head -c 67108864 /dev/urandom >"$BASE"
base_sum=$(sum "$BASE")
format_spaces a:native:96M b:qcow2
write_conf a:native b:qcow2
echo 'dmcow.metrics.listen = "127.0.0.1:9567"' >>"$DCONF"
ip link set lo up || fail "ip link set lo up"
start_daemon a b

step "mkfs.ext4 on a and b, distinct files"
for v in a b; do
	mkfs.ext4 -q -F /dev/mapper/$v || fail "mkfs.ext4 $v"
	mkdir -p /tmp/mnt/$v
	mount /dev/mapper/$v /tmp/mnt/$v || fail "mount $v"
	mkdir /tmp/mnt/$v/only-$v
	head -c 6291456 /dev/urandom >/tmp/mnt/$v/only-$v/big
	for i in 1 2 3 4 5 6 7 8; do
		dd if=/dev/urandom of=/tmp/mnt/$v/only-$v/small$i bs=4k count=$((i * 3)) status=none
	done
	(cd /tmp/mnt/$v && find . -type f ! -path './lost+found/*' | sort | xargs sha256sum) >/tmp/$v.sums
	umount /tmp/mnt/$v
done

# check WHEN: both filesystems clean, each holding exactly its own files, the base untouched.
check() {
	for v in a b; do
		fsck_clean /dev/mapper/$v
		mount -o ro /dev/mapper/$v /tmp/mnt/$v || fail "$1: mount $v"
		(cd /tmp/mnt/$v && find . -type f ! -path './lost+found/*' | sort | xargs sha256sum) >/tmp/$v.now
		umount /tmp/mnt/$v
		cmp -s /tmp/$v.sums /tmp/$v.now || fail "$1: $v's files differ: $(diff /tmp/$v.sums /tmp/$v.now | head)"
	done
	[ "$(sum "$BASE")" = "$base_sum" ] || fail "$1: the base changed"
	step "$1: e2fsck clean, a and b each hold only their own files, base unchanged"
}
check "after writing"

step "metrics: dmcowctl metrics and GET /metrics show faults, fills and commits for a and b, both serving"
metric() { awk -v n="$1" '$1 == n { print $2 }' "$2"; }
dmcowctl metrics >/tmp/metrics.txt || fail "dmcowctl metrics"
for v in a b; do
	for m in faults_total fills_total commits_total; do
		n=$(metric "dmcow_volume_$m{volume=\"$v\"}" /tmp/metrics.txt)
		[ "${n:-0}" -gt 0 ] || fail "dmcow_volume_$m for $v is '$n': $(grep "volume=\"$v\"" /tmp/metrics.txt | head -20)"
	done
	[ "$(metric "dmcow_volume_state{volume=\"$v\",state=\"serving\"}" /tmp/metrics.txt)" = 1 ] || fail "$v not serving in the metrics"
done
[ "$(metric 'dmcow_kernel_messages_read_total{type="fault"}' /tmp/metrics.txt)" -gt 0 ] || fail "no FAULTs counted"
# get_metrics FILE: GET /metrics into FILE
get_metrics() {
	if [ -x /usr/bin/curl ]; then
		curl -sf http://127.0.0.1:9567/metrics >"$1"
	else
		python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9567/metrics").read().decode())' >"$1"
	fi
}
get_metrics /tmp/metrics-http.txt || fail "GET /metrics"
[ "$(metric 'dmcow_volume_faults_total{volume="a"}' /tmp/metrics-http.txt)" -gt 0 ] || fail "GET /metrics: $(head -20 /tmp/metrics-http.txt)"
# parse_metrics STATUS METRICS: the exposition read by prometheus_client's own parser (the one
# Prometheus's Python tooling uses), each volume's figures equal to dmcowctl status --json's
parse_metrics() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
status = {v["name"]: v for v in json.load(open(sys.argv[1]))["volumes"]}
samples = {}
for family in text_string_to_metric_families(open(sys.argv[2]).read()):
    for s in family.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
def get(name, **labels):
    key = (name, tuple(sorted(labels.items())))
    if key not in samples:
        sys.exit("no sample %s%s in the metrics" % (name, labels))
    return samples[key]
same = {"chunks_mapped": "dmcow_volume_chunks_mapped", "chunks_committed": "dmcow_volume_chunks_committed",
        "faults_pending": "dmcow_volume_chunks_pending", "cow_used_bytes": "dmcow_volume_cow_used_bytes",
        "cow_free_bytes": "dmcow_volume_cow_free_bytes", "reloads": "dmcow_volume_table_reloads_total",
        "segments": "dmcow_volume_table_segments"}
for name, v in status.items():
    for field, metric in same.items():
        if get(metric, volume=name) != v[field]:
            sys.exit("%s: %s is %s in the metrics, %s in dmcowctl status" % (name, metric, get(metric, volume=name), v[field]))
    if get("dmcow_volume_state", volume=name, state=v["state"]) != 1:
        sys.exit("%s: dmcow_volume_state is not 1 for its state %s" % (name, v["state"]))
    if get("dmcow_volume_commit_duration_seconds_count", volume=name) <= 0:
        sys.exit("%s: no commit durations" % name)
print(" ".join("%s: %d chunks committed, %d bytes used, %d reloads" % (n, v["chunks_committed"], v["cow_used_bytes"], v["reloads"])
               for n, v in sorted(status.items())))
PY
}
# status, then GET /metrics, then status again: compared when nothing changed in between (a reload may
# come due)
tries=0
until dmcowctl status --json >/tmp/status-1.json && get_metrics /tmp/metrics-parsed.txt &&
	dmcowctl status --json >/tmp/status-2.json &&
	cmp -s /tmp/status-1.json /tmp/status-2.json; do
	tries=$((tries + 1))
	[ $tries -lt 5 ] || fail "dmcowctl status changed on each of 5 tries"
	sleep 2
done
figures=$(parse_metrics /tmp/status-1.json /tmp/metrics-parsed.txt 2>&1) || fail "the metrics against dmcowctl status: $figures"
step "prometheus_client parsed the metrics; they match dmcowctl status: $figures"
step "metrics: a $(metric 'dmcow_volume_faults_total{volume="a"}' /tmp/metrics.txt) faults, $(metric 'dmcow_volume_commits_total{volume="a"}' /tmp/metrics.txt) commits; b $(metric 'dmcow_volume_faults_total{volume="b"}' /tmp/metrics.txt) faults, $(metric 'dmcow_volume_commits_total{volume="b"}' /tmp/metrics.txt) commits; GET /metrics $(wc -l </tmp/metrics-http.txt) lines"

step "udev: with ops/udev/56-dmcow.rules the host's blkid sees no filesystem on a and b, and makes no /dev/disk links"
# udevadm test runs the rules as a change event would (this guest runs no udevd); without the
# rule, blkid finds a's ext4 (the control)
udev_change() { udevadm test --action=change "/sys/class/block/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')" 2>&1; }
udev_change a >/tmp/udev-a.txt
grep -q '^ID_FS_TYPE=ext4$' /tmp/udev-a.txt || fail "without the rule udev's blkid does not find a's ext4: $(grep -E '^(ID_FS|DM_)' /tmp/udev-a.txt)"
mkdir -p /run/udev/rules.d
cp "$DMCOW_ROOT/ops/udev/56-dmcow.rules" /run/udev/rules.d/
for v in a b; do
	udev_change $v >/tmp/udev-$v.txt
	grep -q '^DM_UDEV_DISABLE_OTHER_RULES_FLAG=1$' /tmp/udev-$v.txt || fail "the rule did not keep LVM and the others off $v"
	! grep -q '^ID_FS_' /tmp/udev-$v.txt || fail "udev's blkid still probes $v: $(grep '^ID_FS_' /tmp/udev-$v.txt)"
	grep -q "^DEVLINKS=/dev/mapper/$v\$" /tmp/udev-$v.txt || fail "$v's links: $(grep '^DEVLINKS' /tmp/udev-$v.txt)"
done
rm /run/udev/rules.d/56-dmcow.rules
# udevadm test made /dev/mapper links as udevd would: put the daemon's own nodes back
for v in a b; do
	if [ -L /dev/mapper/$v ]; then
		set -- $(stat -L -c '%t %T' /dev/mapper/$v)
		rm /dev/mapper/$v
		mknod /dev/mapper/$v b $((0x$1)) $((0x$2))
	fi
done
wait_for "dmsetup table a | grep -q ' mapped ' && dmsetup table b | grep -q ' mapped '" 60
step "the daemon's reloads made mapped segments: a $(segments a); b $(segments b)"

step "a table reload by the daemon while it serves: new files, then wait until they are folded into mapped segments"
for v in a b; do
	l0=$(mapped_sectors $v)
	mount /dev/mapper/$v /tmp/mnt/$v || fail "mount $v for more files"
	head -c 2097152 /dev/urandom >/tmp/mnt/$v/after-reload-$v.bin
	umount /tmp/mnt/$v
	wait_for "[ \$(mapped_sectors $v) -gt $l0 ]" 60
	mount -o ro /dev/mapper/$v /tmp/mnt/$v || fail "mount $v"
	(cd /tmp/mnt/$v && find . -type f ! -path './lost+found/*' | sort | xargs sha256sum) >/tmp/$v.sums
	umount /tmp/mnt/$v
done
check "after the table reload"

step "daemon restart with the devices rebuilt from the CoW spaces alone (under other device numbers)"
stop_daemon
dmsetup remove a && dmsetup remove b || fail "dmsetup remove"
# Without udev, dmsetup remove leaves /dev/mapper/a and b behind; a device made meanwhile takes
# the lowest free number, one of theirs, so a stale node would open the wrong device
# (start_daemon checks the nodes).
dmsetup create other --table "0 8 error" || fail "dmsetup create other"
start_daemon a b
dmsetup remove other
check "after the rebuild"
step "tables: a $(segments a); b $(segments b)"
step "new writes after the rebuild; SIGTERM: exit 0, and both devices keep serving the same bytes"
mount /dev/mapper/a /tmp/mnt/a || fail "mount a after the rebuild"
head -c 4194304 /dev/urandom >/tmp/mnt/a/after-rebuild.bin
new_sum=$(sum /tmp/mnt/a/after-rebuild.bin)
umount /tmp/mnt/a
a_sum=$(sum /dev/mapper/a)
b_sum=$(sum /dev/mapper/b)
stop_daemon
[ "$(sum /dev/mapper/a)" = "$a_sum" ] || fail "a changed after the daemon stopped"
[ "$(sum /dev/mapper/b)" = "$b_sum" ] || fail "b changed after the daemon stopped"
mount -o ro /dev/mapper/a /tmp/mnt/a || fail "mount a after the stop"
[ "$(sum /tmp/mnt/a/after-rebuild.bin)" = "$new_sum" ] || fail "the file written after the rebuild changed"
umount /tmp/mnt/a
dmcowctl check /tmp/a.cow --base "$BASE" >/tmp/check-a.log 2>&1 &
cpid=$!
qemu-img check /tmp/b.cow >/tmp/qcheck.log 2>&1 || fail "qemu-img check b: $(cat /tmp/qcheck.log)"
qemu-img compare -f qcow2 -F raw /tmp/b.cow /dev/mapper/b || fail "qemu-img compare: b's overlay differs from the device"
wait $cpid || fail "dmcowctl check a: $(cat /tmp/check-a.log)"
cat /tmp/check-a.log
dmsetup remove a && dmsetup remove b
step "two volumes over one base: every check passed"
