# SIGHUP re-reads dmcowd's config: a new volume appears, a removed volume that is mounted is refused naming its holder and keeps serving, and once unmounted it is committed and removed; a volume with a bad config is refused while the others serve; dmcowd's threads carry PR_SET_IO_FLUSHER, those started after a SIGHUP too.
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
# io_flusher_threads WHEN: every thread of dmcowd named by the daemon or Pekko (dmcowd-*: the
# actors' dispatchers, the scheduler, the admin socket's) carries PR_SET_IO_FLUSHER, that is both
# PF_MEMALLOC_NOIO (0x00080000) and PF_LOCAL_THROTTLE (0x00100000) in its task flags (field 9 of
# /proc/PID/task/TID/stat; kernel/sys.c's PR_IO_FLUSHER, the same bits in 6.1 and 6.12); the
# JVM's first thread, which started before the daemon's main, does not.
io_flusher_threads() {
	# "flagged(0/1) tid name" per thread; a name may hold spaces and parentheses. Through cat: a
	# thread that ends between the glob and the read is skipped (mawk would stop with status 2,
	# which sh -e made the scenario's)
	cat /proc/"$DPID"/task/*/stat 2>/dev/null | awk '{ rest = $0; sub(/.*\) /, "", rest); split(rest, f, " "); name = $0
		sub(/^[0-9]+ \(/, "", name); sub(/\) [^)]*$/, "", name)
		print (int(f[7] / 524288) % 4 == 3), $1, name }' >/tmp/threads.txt
	named=$(awk '$3 ~ /^dmcowd-/' /tmp/threads.txt | wc -l)
	bare=$(awk '$1 == 0 && $3 ~ /^dmcowd-/ { printf "%s ", $3 }' /tmp/threads.txt)
	[ "$named" -ge 3 ] || fail "$1: only $named dmcowd-* thread(s): $(cat /tmp/threads.txt)"
	[ -z "$bare" ] || fail "$1: dmcowd threads without PR_SET_IO_FLUSHER: $bare"
	grep -q "^0 $DPID " /tmp/threads.txt || fail "$1: the JVM's first thread carries PR_SET_IO_FLUSHER too: the check reads the wrong flags? $(cat /tmp/threads.txt)"
	step "$1: all $named dmcowd-* threads carry PR_SET_IO_FLUSHER; of the JVM's own, $(awk '$1 == 1 && $3 !~ /^dmcowd-/' /tmp/threads.txt | wc -l) do, $(awk '$1 == 0' /tmp/threads.txt | wc -l) do not"
}

conf a
start_daemon a
io_flusher_threads "after the start"
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
io_flusher_threads "after two SIGHUPs"
stop_daemon

step "a's CoW space holds every byte: served again by a new daemon"
conf a b
start_daemon a b
mount -o ro /dev/mapper/a /tmp/mnt || fail "mount a again"
[ "$(cat /tmp/mnt/f /tmp/mnt/g | sha256sum)" = "$f_sum" ] || fail "a's files changed"
umount /tmp/mnt
stop_daemon
step "reloads behave"
