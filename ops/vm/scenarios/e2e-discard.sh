# Discards give CoW space back, with the real daemon and module: ext4 on a native volume, files written then deleted, fstrim: the chunks the files held are unmapped (dmcowctl info's used chunks drop by at least 90 % of them, the metrics count the discards and unmaps), the CoW file's allocated blocks (du) drop, the device's table carries discard_unmap; the files kept read back, e2fsck is clean, trimmed chunks read as the base, new files written after the trim read back, and after a daemon restart the space reports the same use and dmcowctl check finds nothing.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

BASE=/tmp/base.img
# the golden image: an empty ext4 (its free blocks are zeros, which a trimmed chunk reads as again)
truncate -s 128M "$BASE"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$BASE" || fail "mkfs.ext4 on the base"
base_sum=$(sum "$BASE")
format_spaces v:native
RELOAD_DELAY=1s write_conf v:native
start_daemon v
dmsetup table v | grep -q ' discard_unmap$' || fail "v's segments lack discard_unmap: $(dmsetup table v)"

used() { dmcowctl info --json /tmp/v.cow | sed 's/.*"used_chunks":\([0-9]*\).*/\1/'; }
allocated() { echo $(($(stat -c %b /tmp/v.cow) * 512)); }
metric() { dmcowctl metrics | awk -v n="$1" '$1 == n { print $2 }'; }

mkdir -p /tmp/mnt/v
mount /dev/mapper/v /tmp/mnt/v || fail "mount v"
step "ext4 on v: 24 MiB of files to keep, 40 MiB to delete"
mkdir /tmp/mnt/v/keep /tmp/mnt/v/drop
for i in 1 2 3; do
	head -c 8388608 /dev/urandom >/tmp/mnt/v/keep/k$i
done
for i in 1 2 3 4 5; do
	head -c 8388608 /dev/urandom >/tmp/mnt/v/drop/d$i
done
sync
(cd /tmp/mnt/v/keep && sha256sum k*) >/tmp/keep.sums
# the chunks the files to delete hold alone (filefrag: their extents, in 4 KiB blocks)
dropped_chunks=$(for f in /tmp/mnt/v/drop/d*; do filefrag -e -b4096 "$f"; done |
	awk -F'[ .:]+' '$2 ~ /^[0-9]+$/ && NF > 6 { for (b = $5; b <= $6; b++) c[int(b / 16)] = 1 } END { print length(c) }')
[ "$dropped_chunks" -ge 600 ] || fail "the files to delete hold $dropped_chunks chunks, fewer than 40 MiB"
wait_for "[ \$(used) -ge $dropped_chunks ]" 60 1
used_before=$(used)
alloc_before=$(allocated)
step "written: $used_before chunks used, $alloc_before bytes allocated; the files to delete hold $dropped_chunks chunks"

step "delete them, fstrim"
rm -r /tmp/mnt/v/drop
sync
fstrim -v /tmp/mnt/v || fail "fstrim"
want_used=$((used_before - dropped_chunks * 9 / 10))
wait_for "[ \$(used) -le $want_used ]" 120 1
used_after=$(used)
alloc_after=$(allocated)
step "after fstrim: $used_after chunks used ($((used_before - used_after)) given back, of $dropped_chunks), $alloc_after bytes allocated"
[ "$alloc_after" -le $((alloc_before - dropped_chunks * 65536 * 9 / 10)) ] ||
	fail "the CoW file's allocated bytes went from $alloc_before to $alloc_after only"
discards=$(metric 'dmcow_volume_discards_total{volume="v"}')
unmaps=$(metric 'dmcow_volume_unmaps_total{volume="v"}')
[ "${unmaps:-0}" -ge $((dropped_chunks * 9 / 10)) ] && [ "${discards:-0}" -ge "${unmaps:-0}" ] ||
	fail "metrics: $discards discards, $unmaps unmaps"
dmsetup status v | grep -q 'discards=[1-9]' || fail "the module counted no discards: $(dmsetup status v)"
step "metrics: $discards discards, $unmaps unmaps; $(dmsetup status v | grep -o 'discards=[0-9]*')"

step "new files after the trim (they may take the freed places); the kept ones unchanged"
head -c 8388608 /dev/urandom >/tmp/mnt/v/keep/after
(cd /tmp/mnt/v/keep && sha256sum after) >>/tmp/keep.sums
umount /tmp/mnt/v
fsck_clean /dev/mapper/v
# check_files WHEN: mounted read-only, the kept files and the later one read back
check_files() {
	mount -o ro /dev/mapper/v /tmp/mnt/v || fail "$1: mount v"
	(cd /tmp/mnt/v/keep && sha256sum -c --quiet /tmp/keep.sums) >/tmp/sums.out 2>&1 ||
		fail "$1: files differ: $(cat /tmp/sums.out)"
	umount /tmp/mnt/v
}
check_files "after the trim"
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"

step "restart: the same use, and the files"
stop_daemon
used_stopped=$(used)
dmcowctl check /tmp/v.cow >/tmp/check.out 2>&1 || fail "dmcowctl check: $(cat /tmp/check.out)"
start_daemon v
wait_for "[ \$(used) = $used_stopped ]" 30 1
status_used=$(dmcowctl status --json | sed 's/.*"cow_used_bytes":\([0-9]*\).*/\1/')
[ "$status_used" = $((used_stopped * 65536)) ] ||
	fail "after the restart dmcowd reports $status_used bytes used, the space $used_stopped chunks"
check_files "after the restart"
fsck_clean /dev/mapper/v
stop_daemon
step "PASS: $dropped_chunks chunks deleted, $((used_before - used_after)) given back; $((alloc_before - alloc_after)) bytes of the CoW file freed"
