# Kernel-target figures, run inside the VM by ops/bench-kmod, with the test responder for a daemon.
# PARTS (comma-separated) says which of these run:
# 1. isolation: volume B's random 4 KiB first writes alone, while volume A runs sequential 1 MiB
#    first writes on dm-cow, and while A runs the same writes to a plain loop device (what A's I/O
#    costs the emulated machine without dm-cow), three rounds of the three in one boot, so that the
#    host's changing load falls on all alike; each round's ratios to its own B alone and their
#    medians are the figures (absolute numbers under emulation are noise). Every fill is a copy
#    (responder --fill copy), so fills share the module's max_copies slots. Prints "ISOLATION" lines.
# 2. fsync: flush cost against table size: a guest fsync on a volume whose table is one cow
#    segment, on one whose table is 1,000 cow segments of the same volume, and on one whose table is
#    one cow segment and 999 dm-linear segments over its CoW device (dm sends an empty flush to every
#    segment), and on one of one cow segment and 999 mapped cow segments (as dmcowd builds its tables:
#    one empty flush for the volume), each after a 4 KiB first write; and dm-linear tables of 1 and
#    1,000 segments, for what dm's own flush to every segment costs. Prints "FSYNC" lines.
# 3. remaps: kernel memory per committed, not forgotten chunk, from /proc/slabinfo before and after
#    N chunks were written and committed. Prints "REMAPS" lines.
#
#   kmod.sh RUNTIME MAX_COPIES REMAPS FSYNCS PARTS
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
runtime=$1
copies=$2
remaps=$3
fsyncs=$4
gib=$((1024 * 1024 * 1024))
parts=$5
load_dmcow max_copies="$copies"

# volume NAME CHUNK_SECTORS [BYTES]: a fresh volume of BYTES (1 GiB) (its own ident, sparse base
# and CoW files): every chunk is a first write.
volume() {
	base=$(make_loop "$1-base.img" "${3:-$gib}" zero)
	cow=$(make_loop "$1-cow.img" "${3:-$gib}" zero)
	dmsetup create "$1" --table "0 $(sectors "$base") cow $1 $base $cow $2"
	mapper_nodes
}

# b_iops NAME: random 4 KiB writes to volume NAME for $runtime s; prints write IOPS and the mean
# completion latency in ms. B's chunks are 4 KiB, so nearly every write (at most some 60,000 of
# 262,144 chunks) is a first write.
b_iops() {
	fio --name=b --filename=/dev/mapper/$1 --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
		--iodepth=16 --time_based --runtime="$runtime" --randrepeat=0 --output-format=terse \
		--terse-version=3 >/tmp/$1.fio || fail "fio on $1: $(cat /tmp/$1.fio)"
	# terse v3: field 49 is the write IOPS, 57 the mean completion latency (us)
	awk -F';' '$1 == 3 { printf "%s %.1f\n", $49, $57 / 1000 }' /tmp/$1.fio
}

# cpu_ticks: the guest's busy and total CPU ticks so far (/proc/stat), and the responder's
# (user + system, /proc/PID/stat), for their shares of the guest's 2 CPUs.
cpu_ticks() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
	# the fields after the command name, which is in parentheses: utime and stime are 12 and 13
	sed 's/.*) //' /proc/$RESP_PID/stat | awk '{ print $12 + $13 }'
}

# drop_volumes NAME...: commit (a flush makes the responder commit), remove the volumes and their
# loop devices and files.
drop_volumes() {
	for d in "$@"; do
		sync /dev/mapper/$d
		dmsetup remove $d
	done
	losetup -D
	for d in "$@"; do rm -f /tmp/$d-*.img; done
}

# b_round MODE LABEL: one run of B (a fresh volume), MODE alone, with-a (A a fresh dm-cow volume of
# 64 KiB chunks, one pass of sequential 1 MiB first writes over 1.5 GiB, which A does not finish
# within B's run unless it writes more than 60 MiB/s) or with-plain-a (A the same
# writes to a plain loop device over a sparse file, no dm-cow, written over and over so that A
# lasts: what A's I/O costs the emulated machine by itself). A starts 2 s before B and is stopped
# when B's run ends. Prints one line (LABEL first): B's IOPS and mean latency, the guest CPUs'
# busy share and the responder's CPU use during B's run, B's and A's fills then; appends
# "ROUND MODE IOPS" to /tmp/iso.iops.
b_round() {
	volume b 8
	apid=
	case $1 in
	with-a)
		volume a 128 $((gib * 3 / 2))
		atarget=/dev/mapper/a
		;;
	with-plain-a)
		atarget=$(make_loop a-plain.img $gib zero)
		again="--time_based --runtime=$((runtime + 10))"
		;;
	esac
	if [ -n "${atarget:-}" ]; then
		# shellcheck disable=SC2086 # $again is options or nothing
		fio --name=a --filename="$atarget" --direct=1 --ioengine=libaio --rw=write --bs=1M \
			--iodepth=8 ${again:-} --output-format=terse --terse-version=3 >/tmp/a.fio 2>&1 &
		apid=$!
		sleep 2 # A's burst fills the fill queues first
	fi
	a0=$([ "$1" != with-a ] || status_field a copies)
	t0=$(cpu_ticks)
	set -- "$1" $(b_iops b) "$2"
	t1=$(cpu_ticks)
	a1=$([ "$1" != with-a ] || status_field a copies)
	busy=$(echo $t0 $t1 | awk -v n="$(nproc)" '$5 > $2 { printf "%.0f%% of %d CPUs, the responder %.0f%% of one", 100 * ($4 - $1) / ($5 - $2), n, 100 * n * ($6 - $3) / ($5 - $2) }')
	line="B $2 IOPS (mean latency $3 ms), guest CPU busy $busy, B's fills $(status_field b copies)"
	if [ -n "$apid" ]; then
		a_done=yes
		if kill -0 "$apid" 2>/dev/null; then
			a_done=no
			kill "$apid"
		fi
		wait "$apid" || true
		a_kib=$(awk -F';' '$1 == 3 { print $48 }' /tmp/a.fio)
		line="$line; A $a_kib KiB/s$([ "$1" != with-a ] || echo ", A's fills during B's run $((a1 - a0))"), A's pass $([ $a_done = yes ] && echo "ended before B's" || echo "ran through B's run")"
	fi
	echo "ISOLATION $4 $1: $line"
	echo "${4#round } $1 $2" >>/tmp/iso.iops
	case $1 in
	with-a) drop_volumes a b ;;
	with-plain-a) drop_volumes b; rm -f /tmp/a-plain.img ;;
	*) drop_volumes b ;;
	esac
	atarget=
	again=
}

# median: the middle of the numbers on stdin (of an odd count).
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

isolation() {
	step "isolation: 3 rounds of B alone, B while A writes to dm-cow, B while A writes to a plain loop device"
	echo "ISOLATION max_copies $copies"
	: >/tmp/iso.iops
	for r in 1 2 3; do
		echo "ISOLATION round $r guest load $(cut -d' ' -f1-3 /proc/loadavg)"
		for m in alone with-a with-plain-a; do
			b_round $m "round $r"
		done
	done
	# each round's ratios against its own B alone, then the median over the rounds
	awk '{ v[$1, $2] = $3 } END {
		for (r = 1; r <= 3; r++)
			printf "ISOLATION round %d ratio with-a %.2f with-plain-a %.2f\n", r,
				v[r, "alone"] ? v[r, "with-a"] / v[r, "alone"] : 0,
				v[r, "alone"] ? v[r, "with-plain-a"] / v[r, "alone"] : 0
	}' /tmp/iso.iops | tee /tmp/iso.ratios
	echo "ISOLATION ratio $(awk '{ print $6 }' /tmp/iso.ratios | median) (median of the rounds' B with A on dm-cow / B alone)"
	echo "ISOLATION plain_ratio $(awk '{ print $8 }' /tmp/iso.ratios | median) (median of the rounds' B with A on a plain loop device / B alone)"
}

# fsync_volume NAME SEGMENTS: a fresh volume of 1,000 x 64 KiB with 4 KiB chunks (its own ident,
# sparse base and CoW files), its table SEGMENTS cow segments of equal length.
fsync_volume() {
	base=$(make_loop "$1-base.img" $((1000 * 65536)) zero)
	cow=$(make_loop "$1-cow.img" $((1000 * 65536)) zero)
	awk -v n="$2" -v len=$((1000 * 128 / $2)) -v id="$1" -v b="$base" -v c="$cow" \
		'BEGIN { for (i = 0; i < n; i++) printf "%d %d cow %s %s %s 8\n", i * len, len, id, b, c }' |
		dmsetup create "$1" || fail "creating $1 with $2 segment(s)"
	[ "$(dmsetup table "$1" | grep -c ' cow ')" = "$2" ] || fail "$1 has not $2 cow segments: $(dmsetup table "$1" | head -3)"
	mapper_nodes
}

# fsync_mixed_volume NAME: the same volume, its table one cow segment over all but the last 999 x
# 4 KiB, then 999 dm-linear segments of 4 KiB over its CoW device (as the daemon's linear
# segments of committed chunks are): dm sends its empty flush to each of them too.
fsync_mixed_volume() {
	base=$(make_loop "$1-base.img" $((1000 * 65536)) zero)
	cow=$(make_loop "$1-cow.img" $((1000 * 65536)) zero)
	awk -v end=$((1000 * 128)) -v id="$1" -v b="$base" -v c="$cow" 'BEGIN {
		lin = end - 999 * 8
		printf "0 %d cow %s %s %s 8\n", lin, id, b, c
		for (s = lin; s < end; s += 8) printf "%d 8 linear %s %d\n", s, c, s
	}' | dmsetup create "$1" || fail "creating $1"
	[ "$(dmsetup table "$1" | grep -c ' linear ')" = 999 ] || fail "$1 has not 999 linear segments"
	mapper_nodes
}

# fsync_mapped_volume NAME: the same as fsync_mixed_volume, with 999 mapped cow segments in place
# of the dm-linear ones (as dmcowd builds its tables since target 1.2.0).
fsync_mapped_volume() {
	base=$(make_loop "$1-base.img" $((1000 * 65536)) zero)
	cow=$(make_loop "$1-cow.img" $((1000 * 65536)) zero)
	awk -v end=$((1000 * 128)) -v id="$1" -v b="$base" -v c="$cow" 'BEGIN {
		m = end - 999 * 8
		printf "0 %d cow %s %s %s 8\n", m, id, b, c
		for (s = m; s < end; s += 8) printf "%d 8 cow %s %s %s 8 2 mapped %d\n", s, id, b, c, s
	}' | dmsetup create "$1" || fail "creating $1"
	[ "$(dmsetup table "$1" | grep -c ' 2 mapped ')" = 999 ] || fail "$1 has not 999 mapped segments"
	mapper_nodes
}

# fsync_us NAME ROUND: $fsyncs x (4 KiB write + fsync) on device NAME, on its ROUND-th (from 0)
# stretch of $fsyncs blocks (on a fresh cow volume each write is then a whole chunk not written
# before, so each fsync has one uncommitted chunk: FLUSH, then the responder's commit); prints the
# median and the mean fsync time in microseconds and the number of fsyncs (fio makes none after
# the last write).
fsync_us() {
	fio --name=f --filename=/dev/mapper/$1 --direct=1 --ioengine=psync --rw=write --bs=4k \
		--offset=$(($2 * fsyncs * 4096)) --size=$((fsyncs * 4096)) --fsync=1 --output-format=json \
		>/tmp/$1.fio 2>&1 || fail "fio on $1: $(cat /tmp/$1.fio)"
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["jobs"][0]["sync"]
print("%.0f %.0f %d" % (s["lat_ns"]["percentile"]["50.000000"] / 1000, s["lat_ns"]["mean"] / 1000, s["total_ios"]))' /tmp/$1.fio
}

# flushes: FLUSH messages the fsync responder has read so far
flushes() { grep -c '^FLUSH' /tmp/resp3.log || true; }

# fsync_rounds KIND ONE MANY FIRST: three rounds of fsync_us on device ONE (1 segment), then on
# MANY (1,000), on stretches FIRST, FIRST+1, FIRST+2, alternating so that the host's changing load
# falls on both alike; a line per round and the median of the rounds' ratios of medians. KIND
# other than linear also counts the FLUSH messages.
fsync_rounds() {
	for r in $4 $(($4 + 1)) $(($4 + 2)); do
		n0=$(flushes)
		one=$(fsync_us "$2" $r)
		n1=$(flushes)
		many=$(fsync_us "$3" $r)
		n2=$(flushes)
		set -- "$1" "$2" "$3" "$4" $one $many
		ratio=$(awk -v m="$8" -v o="$5" 'BEGIN { printf "%.2f", o ? m / o : 0 }')
		ratios="${ratios:-} $ratio"
		echo "FSYNC $1 round $((r - $4 + 1)): $2 p50 $5 us (mean $6, $7 fsyncs$([ "$1" = linear ] || echo ", $((n1 - n0)) FLUSH")), $3 p50 $8 us (mean $9, ${10} fsyncs$([ "$1" = linear ] || echo ", $((n2 - n1)) FLUSH")), ratio $ratio"
		set -- "$1" "$2" "$3" "$4"
	done
	echo "FSYNC ${1}_ratio $(echo $ratios | tr ' ' '\n' | sort -n | sed -n 2p) (median of the rounds' p50 ratios)"
	ratios=
}

fsync_part() {
	step "fsync: 3 x 2 x $fsyncs x (4 KiB first write + fsync), a table of 1 cow segment (f1) and one of 1,000 (f1000)"
	start_responder resp3 --commit flush
	fsync_volume f1 1
	fsync_volume f1000 1000
	fsync_mixed_volume fmix
	fsync_mapped_volume fmap
	fsync_rounds cow f1 f1000 0
	step "fsync: the same, f1 against a table of 1 cow segment and 999 dm-linear segments over its CoW device (fmix)"
	fsync_rounds mixed f1 fmix 3
	step "fsync: the same, f1 against a table of 1 cow segment and 999 mapped cow segments (fmap)"
	fsync_rounds mapped f1 fmap 6
	# the last write's chunk committed before the responder goes (fio's last write has no fsync)
	sync /dev/mapper/f1 /dev/mapper/f1000 /dev/mapper/fmix /dev/mapper/fmap
	stop_responder
	for d in f1 f1000 fmix fmap; do dmsetup remove $d; done
	losetup -D
	rm -f /tmp/f1-*.img /tmp/f1000-*.img /tmp/fmix-*.img /tmp/fmap-*.img

	# dm itself sends an empty flush to every segment of a table: the same on dm-linear tables over one
	# loop device, for what 1,000 segments cost without dm-cow.
	step "fsync: 3 x 2 x $fsyncs x (4 KiB write + fsync), a dm-linear table of 1 segment and one of 1,000"
	lbase=$(make_loop l-base.img $((1000 * 65536)) zero)
	for n in 1 1000; do
		awk -v n="$n" -v len=$((1000 * 128 / n)) -v d="$lbase" \
			'BEGIN { for (i = 0; i < n; i++) printf "%d %d linear %s %d\n", i * len, len, d, i * len }' |
			dmsetup create "l$n" || fail "creating l$n with $n linear segment(s)"
	done
	mapper_nodes
	fsync_rounds linear l1 l1000 0
	for d in l1 l1000; do dmsetup remove $d; done
	losetup -D
	rm -f /tmp/l-base.img
}

# slab_bytes CACHE: bytes held by a slab cache's active objects. The remap index is an xarray
# (radix_tree_node objects, a cache never merged with others); before, each remap was a 192-byte
# chunk state (sizeof(struct cow_chunk)), which is freed at COMMITTED now.
slab_bytes() {
	awk -v c="$1" '$1 == c { print $2 * $4; found = 1 } END { if (!found) print 0 }' /proc/slabinfo
}

# slab_total: bytes in all slab caches (/proc/meminfo), for a module whose remaps are in a cache
# merged with others (before: the chunk states)
slab_total() {
	awk '$1 == "Slab:" { print $2 * 1024 }' /proc/meminfo
}

remaps_part() {
	step "remap memory: $remaps chunks of 4 KiB written whole (no fill) and committed"
	rbytes=$((remaps * 4096))
	rbase=$(make_loop r-base.img $rbytes zero)
	# written through now, so that its own page cache index (tmpfs) is complete before the count
	rcow=$(make_loop r-cow.img $rbytes random)
	nodes0=$(slab_bytes radix_tree_node)
	slab0=$(slab_total)
	dmsetup create r --table "0 $(sectors "$rbase") cow r $rbase $rcow 8"
	mapper_nodes
	start_responder resp2 --commit flush
	dd if=/dev/zero of=/dev/mapper/r bs=1M count=$rbytes iflag=count_bytes oflag=direct conv=fsync status=none || fail "writing r failed"
	[ "$(status_field r filled_uncommitted)" = 0 ] || fail "not all committed: $(dmsetup status r)"
	nodes1=$(slab_bytes radix_tree_node)
	slab1=$(slab_total)
	echo "REMAPS chunks $remaps"
	echo "REMAPS radix_tree_node_bytes $((nodes1 - nodes0))"
	echo "REMAPS bytes_per_remap $(awk -v n=$((nodes1 - nodes0)) -v c="$remaps" 'BEGIN { printf "%.1f", n / c }') (remap index)"
	echo "REMAPS slab_bytes_per_remap $(awk -v n=$((slab1 - slab0)) -v c="$remaps" 'BEGIN { printf "%.1f", n / c }') (all slab caches, noise included)"
	stop_responder
	dmsetup remove r
}

case ,$parts, in *,isolation,*)
	start_responder resp --fill copy --commit flush
	isolation
	stop_responder
esac
case ,$parts, in *,fsync,*) fsync_part; esac
case ,$parts, in *,remaps,*) remaps_part; esac
