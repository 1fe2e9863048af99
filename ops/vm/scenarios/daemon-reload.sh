# SIGHUP re-reads dmcowd's config: a new volume appears, a removed volume that is mounted is refused naming its holder and keeps serving, and once unmounted it is committed and removed; a volume with a bad config is refused while the others serve.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

head -c 33554432 /dev/urandom >/tmp/base.img
for v in a b; do
	"$BIN/dmcowctl" format --base /tmp/base.img --cow /tmp/$v.cow --chunk-size 64k --size 64M >/dev/null ||
		fail "format $v"
done
conf() {
	{
		echo 'dmcow { commit-interval = 500ms, admin-socket = /run/dmcow/dmcowd.sock }'
		for v in "$@"; do
			echo "dmcow.volumes.$v { base = /tmp/base.img, cow = /tmp/$v.cow, format = native, chunk-size = 64k }"
		done
		echo 'dmcow.volumes.broken { base = /tmp/base.img, cow = relative.cow }'
	} >"$DCONF"
}
conf a
start_daemon a
rc=0
status=$("$BIN/dmcowctl" status) || rc=$?
[ $rc = 3 ] || fail "dmcowctl status exits $rc with a volume refused, not 3: $status"
step "a serves; broken is refused: $status"
echo "$status" | grep -q "volume broken: cow must be an absolute path" || fail "no reason for broken: $status"
mkfs.ext4 -q -F /dev/mapper/a || fail "mkfs on a"
mount /dev/mapper/a /tmp/mnt || fail "mount a"
head -c 2097152 /dev/urandom >/tmp/mnt/f
sync

step "SIGHUP: b added, a removed while mounted"
conf b
kill -HUP "$DPID"
wait_for '[ -b /dev/mapper/b ]'
wait_for 'grep -q "volume a: not removed" "$DLOG.run"'
grep "volume a: not removed" "$DLOG.run" | grep -q "open 1 time" || fail "refusal does not name the holder: $(grep 'volume a' "$DLOG.run")"
[ -b /dev/mapper/a ] || fail "a was removed while mounted"
head -c 1048576 /dev/urandom >/tmp/mnt/g && sync || fail "a stopped serving after the refused removal"
f_sum=$(cat /tmp/mnt/f /tmp/mnt/g | sha256sum)
umount /tmp/mnt

step "SIGHUP again: a, now unused, is committed and removed"
kill -HUP "$DPID"
wait_for '[ ! -e /dev/mapper/a ]'
dmsetup info a >/dev/null 2>&1 && fail "dm device a still exists"
stop_daemon

step "a's CoW space holds every byte: served again by a new daemon"
conf a b
start_daemon a b
mount -o ro /dev/mapper/a /tmp/mnt || fail "mount a again"
[ "$(cat /tmp/mnt/f /tmp/mnt/g | sha256sum)" = "$f_sum" ] || fail "a's files changed"
umount /tmp/mnt
stop_daemon
step "reloads behave"
