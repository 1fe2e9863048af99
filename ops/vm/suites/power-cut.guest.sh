# Guest side of ops/vm/suites/power-cut, one boot: CYCLE [LAST]. Disks (prepared on the host):
# vda the base (ext4), vdb a native CoW space, vdc an ext4 "host" filesystem holding the qcow2
# overlay q.cow, vdd the record disk. Every boot after the first checks what the previous boot
# recorded before QEMU was killed; unless LAST, the boot then writes and fsyncs files, recording
# each file's checksum only once it is durable, with discards between them (files deleted under
# -o discard, fstrim), and prints the cut marker midway.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
CYCLE=$1
LAST=${2:-}
BASE=/dev/vda
REC=/dev/vdd
# records: 512-byte blocks "CYCLE VOLUME PATH SHA256", 128 per cycle
RECS_PER_CYCLE=128
load_dmcow
mkdir -p /tmp/holder
write_conf_here() {
	{
		echo "dmcow { commit-interval = 1s, admin-socket = /run/dmcow/dmcowd.sock, reload { max-mappings = 128, max-delay = 1s } }"
		echo "dmcow.volumes.n { base = $BASE, cow = /dev/vdb, format = native, chunk-size = 64k }"
		echo "dmcow.volumes.q { base = $BASE, cow = /tmp/holder/q.cow, format = qcow2, chunk-size = 64k }"
	} >"$DCONF"
}

mount /dev/vdc /tmp/holder || fail "mount vdc"
if [ "$CYCLE" != 1 ]; then
	prev=$((CYCLE - 1))
	rc=0
	qemu-img check /tmp/holder/q.cow >/tmp/qcheck.log 2>&1 || rc=$?
	[ $rc = 0 ] || [ $rc = 3 ] || fail "qemu-img check after cut $prev: exit $rc: $(cat /tmp/qcheck.log)"
	leaks=$(sed -n 's/^\([0-9]*\) leaked clusters.*/\1/p' /tmp/qcheck.log)
fi
write_conf_here
start_daemon n q

if [ "$CYCLE" != 1 ]; then
	dd if=$REC bs=512 skip=$((prev * RECS_PER_CYCLE)) count=$RECS_PER_CYCLE iflag=direct status=none |
		tr -d '\000' | awk -v c="$prev" '$1 == c && NF == 4' >/tmp/records
	nrec=$(wc -l </tmp/records)
	for v in n q; do
		mkdir -p /tmp/mnt/$v
		mount /dev/mapper/$v /tmp/mnt/$v || fail "mount $v after cut $prev"
	done
	while read -r c v path want; do
		[ -f "/tmp/mnt/$v/$path" ] || fail "cut $prev: $v:$path was recorded as durable but is missing"
		got=$(sha256sum <"/tmp/mnt/$v/$path" | cut -d' ' -f1)
		[ "$got" = "$want" ] || fail "cut $prev: $v:$path reads back with a different checksum"
	done </tmp/records
	for v in n q; do
		umount /tmp/mnt/$v
		fsck_clean /dev/mapper/$v
	done
	step "cut $prev: $nrec recorded files read back intact; e2fsck clean on n and q; qemu-img check q: exit $rc${leaks:+ ($leaks leaked clusters)}"
	# the clusters the cut leaked (granted or placed, never committed) are freed by the daemon
	# that created the device anew, all of them
	if [ -n "$leaks" ]; then
		freed_re='freed [0-9]* places counted but never committed'
		wait_for "grep -q '$freed_re' $DLOG.run" 60 1
		freed=$(grep -o "$freed_re" "$DLOG.run" | head -1 | cut -d' ' -f2)
		step "cut $prev: the daemon freed $freed of the $leaks leaked clusters"
		[ "$freed" = "$leaks" ] || fail "cut $prev: qemu-img check found $leaks leaked clusters, the daemon freed $freed"
	fi
fi

if [ -n "$LAST" ]; then
	stop_daemon
	dmsetup remove n && dmsetup remove q || fail "dmsetup remove"
	losetup -D # the daemon's loop device over q.cow holds the filesystem
	umount /tmp/holder || fail "umount the qcow2 overlay's filesystem"
	exit 0
fi

# Mounted with online discards: the last cycle's files deleted here, and the scratch files below,
# are discarded as they go (chunks unmapped, their places reused) while files are written.
for v in n q; do
	mkdir -p /tmp/mnt/$v
	mount -o discard /dev/mapper/$v /tmp/mnt/$v || fail "mount $v"
	rm -rf /tmp/mnt/$v/c* /tmp/mnt/$v/scratch
	mkdir -p /tmp/mnt/$v/c$CYCLE /tmp/mnt/$v/scratch
	sync -f /tmp/mnt/$v
done
# Cut after a random number (2..6) of recorded files, while writing continues.
cut_at=$(od -An -N1 -tu1 /dev/urandom | awk '{ print 2 + $1 % 5 }')
i=0
while [ $i -lt $((RECS_PER_CYCLE / 2)) ]; do
	for v in n q; do
		path=c$CYCLE/f$i
		kib=$(od -An -N2 -tu2 /dev/urandom | awk '{ print 4 + $1 % 380 }')
		head -c $((kib * 1024)) /dev/urandom >/tmp/mnt/$v/$path
		sync /tmp/mnt/$v/$path
		sync /tmp/mnt/$v/c$CYCLE
		sum=$(sha256sum </tmp/mnt/$v/$path | cut -d' ' -f1)
		slot=$((CYCLE * RECS_PER_CYCLE + 2 * i))
		[ $v = n ] || slot=$((slot + 1))
		printf '%-511s\n' "$CYCLE $v $path $sum" |
			dd of=$REC bs=512 seek=$slot count=1 oflag=direct,dsync conv=notrunc status=none ||
			fail "record write failed"
	done
	# every other file, a scratch file of a few chunks, deleted with the one before: discards
	# (whole chunks among them) between the recorded writes, and fstrim now and then
	if [ $((i % 2)) = 1 ]; then
		for v in n q; do
			rm -f /tmp/mnt/$v/scratch/s$((i - 2))
			head -c $((256 * 1024 + i * 4096)) /dev/urandom >/tmp/mnt/$v/scratch/s$i
			sync -f /tmp/mnt/$v
			[ $((i % 4)) != 3 ] || fstrim /tmp/mnt/$v || fail "fstrim $v"
		done
	fi
	i=$((i + 1))
	if [ $i = "$cut_at" ]; then
		# the module's counts of chunks discarded whole (DISCARDs sent) and of live grants, one
		# status each: no JVM start before the cut, and the host counts the cuts with grants live
		sn=$(dmsetup status n)
		sq=$(dmsetup status q)
		step "at the cut: n discards=$(status_text_field "$sn" discards) grants=$(status_text_field "$sn" grants), q discards=$(status_text_field "$sq" discards) grants=$(status_text_field "$sq" grants)"
		echo "DMCOW-POWER-CUT-NOW after $i files per volume"
	fi
done
fail "cycle $CYCLE: the power cut never came"
