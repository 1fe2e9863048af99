# Discards give CoW space back, with the real daemon and module, on a native (v) and a qcow2 (q) volume: ext4 on each, files written then deleted, fstrim: the chunks the files held are unmapped (dmcowctl info's used chunks drop by at least 90 % of them; qcow2: qemu-img map's allocated bytes too), the metrics count the discards and unmaps, the CoW files' allocated blocks (du) drop, the tables carry discard_unmap; the files kept read back, e2fsck is clean, new files written after the trim read back, and after a daemon restart the spaces report the same use, dmcowctl check finds nothing and qemu-img check exits 0; on devices rebuilt from the spaces (as after a reboot) a deleted file's chunks are given back too.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

BASE=/tmp/base.img
# the golden image: an empty ext4
truncate -s 128M "$BASE"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$BASE" || fail "mkfs.ext4 on the base"
base_sum=$(sum "$BASE")
format_spaces v:native q:qcow2
RELOAD_DELAY=1s write_conf v:native q:qcow2
start_daemon v q
for x in v q; do
	dmsetup table $x | grep -q ' discard_unmap$' || fail "$x's segments lack discard_unmap: $(dmsetup table $x)"
done

used() { dmcowctl info --json "/tmp/$1.cow" | sed 's/.*"used_chunks":\([0-9]*\).*/\1/'; }
allocated() { echo $(($(stat -c %b "/tmp/$1.cow") * 512)); }
# qcow2_data: bytes q's image holds itself (qemu-img map, depth 0), read beside the daemon (-U)
qcow2_data() { qemu-img map -U --output=json -f qcow2 /tmp/q.cow | awk -F'[:,]' '/"depth": 0/ && /"data": true/ { s += $4 } END { print s + 0 }'; }
metric() { awk -v n="$1" '$1 == n { print $2 }' /tmp/metrics.txt; }
# per volume figures (the guest's sh has no arrays): let NAME VOLUME VALUE; of NAME VOLUME
let_() { eval "$1_$2=\$3"; }
of() { eval "echo \$$1_$2"; }

step "ext4 on v and q: 24 MiB of files to keep, 40 MiB to delete on each"
for x in v q; do
	mkdir -p /tmp/mnt/$x
	mount /dev/mapper/$x /tmp/mnt/$x || fail "mount $x"
	mkdir /tmp/mnt/$x/keep /tmp/mnt/$x/drop
	for i in 1 2 3; do
		head -c 8388608 /dev/urandom >/tmp/mnt/$x/keep/k$i
	done
	for i in 1 2 3 4 5; do
		head -c 8388608 /dev/urandom >/tmp/mnt/$x/drop/d$i
	done
	sync -f /tmp/mnt/$x
	(cd /tmp/mnt/$x/keep && sha256sum k*) >/tmp/keep-$x.sums
done
for x in v q; do
	# the chunks the files to delete hold (filefrag: their extents, in 4 KiB blocks; 16 a chunk)
	let_ dropped $x "$(for f in /tmp/mnt/$x/drop/d*; do filefrag -e -b4096 "$f"; done |
		awk -F'[ .:]+' '$2 ~ /^[0-9]+$/ && NF > 6 { for (b = $5; b <= $6; b++) c[int(b / 16)] = 1 } END { print length(c) }')"
	[ "$(of dropped $x)" -ge 600 ] || fail "the files to delete on $x hold $(of dropped $x) chunks, fewer than 40 MiB"
	wait_for "[ \$(used $x) -ge $(of dropped $x) ]" 60 1
	let_ used_before $x "$(used $x)"
	let_ alloc_before $x "$(allocated $x)"
	step "$x: $(of used_before $x) chunks used, $(of alloc_before $x) bytes allocated; the files to delete hold $(of dropped $x) chunks"
done
q_data_before=$(qcow2_data)

step "delete them, fstrim"
for x in v q; do
	rm -r /tmp/mnt/$x/drop
	sync -f /tmp/mnt/$x
	fstrim -v /tmp/mnt/$x || fail "fstrim $x"
done
dmcowctl metrics >/tmp/metrics.txt || fail "dmcowctl metrics"
for x in v q; do
	dropped=$(of dropped $x)
	used_before=$(of used_before $x)
	alloc_before=$(of alloc_before $x)
	wait_for "[ \$(used $x) -le $((used_before - dropped * 9 / 10)) ]" 120 1
	used_after=$(used $x)
	alloc_after=$(allocated $x)
	step "$x after fstrim: $used_after chunks used ($((used_before - used_after)) given back, of $dropped), $alloc_after bytes allocated ($((alloc_before - alloc_after)) fewer)"
	[ "$alloc_after" -le $((alloc_before - dropped * 65536 * 9 / 10)) ] ||
		fail "$x's CoW file's allocated bytes went from $alloc_before to $alloc_after only"
	unmaps=$(metric "dmcow_volume_unmaps_total{volume=\"$x\"}")
	discards=$(metric "dmcow_volume_discards_total{volume=\"$x\"}")
	[ "${unmaps:-0}" -ge $((dropped * 9 / 10)) ] && [ "${discards:-0}" -ge "${unmaps:-0}" ] ||
		fail "$x's metrics: $discards discards, $unmaps unmaps"
	dmsetup status $x | grep -q 'discards=[1-9]' || fail "the module counted no discards on $x: $(dmsetup status $x)"
	step "$x: $discards discards, $unmaps unmaps counted by dmcowd; $(dmsetup status $x | grep -o 'discards=[0-9]*') by the module"
done
q_data_after=$(qcow2_data)
[ "$q_data_after" -le $((q_data_before - $(of dropped q) * 65536 * 9 / 10)) ] ||
	fail "qemu-img map: q's image holds $q_data_after bytes itself after the trim, $q_data_before before"
step "qemu-img map: q's image holds $q_data_after bytes itself, $q_data_before before"

step "new files after the trim (they may take the freed places); the kept ones unchanged"
for x in v q; do
	head -c 8388608 /dev/urandom >/tmp/mnt/$x/keep/after
	(cd /tmp/mnt/$x/keep && sha256sum after) >>/tmp/keep-$x.sums
	umount /tmp/mnt/$x
	fsck_clean /dev/mapper/$x
done
# check_files WHEN: each mounted read-only, the kept files and the later one read back
check_files() {
	for x in v q; do
		mount -o ro /dev/mapper/$x /tmp/mnt/$x || fail "$1: mount $x"
		(cd /tmp/mnt/$x/keep && sha256sum -c --quiet /tmp/keep-$x.sums) >/tmp/sums.out 2>&1 ||
			fail "$1: files on $x differ: $(cat /tmp/sums.out)"
		umount /tmp/mnt/$x
	done
}
check_files "after the trim"
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"

step "restart: the same use, the spaces clean, the files"
stop_daemon
dmcowctl check /tmp/v.cow >/tmp/check.out 2>&1 || fail "dmcowctl check v: $(cat /tmp/check.out)"
qemu-img check -f qcow2 /tmp/q.cow >/tmp/qcheck.out 2>&1 || fail "qemu-img check q (exit $?): $(cat /tmp/qcheck.out)"
for x in v q; do
	let_ used_stopped $x "$(used $x)"
done
start_daemon v q
dmcowctl status --json >/tmp/status.json || fail "dmcowctl status"
for x in v q; do
	got=$(tr '{' '\n' </tmp/status.json | grep "\"name\":\"$x\"" | sed 's/.*"cow_used_bytes":\([0-9]*\).*/\1/')
	[ "$got" = $(($(of used_stopped $x) * 65536)) ] ||
		fail "after the restart dmcowd reports $got bytes used on $x, its space $(of used_stopped $x) chunks"
done
check_files "after the restart"
for x in v q; do
	fsck_clean /dev/mapper/$x
done

step "as after a reboot: the devices removed, rebuilt from the spaces; a deleted file's chunks are given back there too"
stop_daemon
dmsetup remove v && dmsetup remove q || fail "dmsetup remove"
detach_loops /tmp/v.cow /tmp/q.cow
start_daemon v q
for x in v q; do
	mount /dev/mapper/$x /tmp/mnt/$x || fail "mount $x"
	held=$(filefrag -e -b4096 /tmp/mnt/$x/keep/k1 |
		awk -F'[ .:]+' '$2 ~ /^[0-9]+$/ && NF > 6 { for (b = $5; b <= $6; b++) c[int(b / 16)] = 1 } END { print length(c) }')
	before=$(used $x)
	rm /tmp/mnt/$x/keep/k1
	sed -i '/ k1$/d' /tmp/keep-$x.sums
	sync -f /tmp/mnt/$x
	fstrim /tmp/mnt/$x || fail "fstrim $x"
	wait_for "[ \$(used $x) -le $((before - held * 9 / 10)) ]" 120 1
	step "$x: k1 held $held chunks; $((before - $(used $x))) given back"
	umount /tmp/mnt/$x
done
check_files "after the trim on the rebuilt devices"
stop_daemon
step "PASS: after the restart v uses $(of used_stopped v) chunks, q $(of used_stopped q); both clean"
