# Full CoW spaces, with the real daemon and module: a native space under no-space = error fails a write to a new chunk with ENOSPC after its 10 s timeout (and the next one at once), while written chunks, unwritten reads and the other volumes keep working, until dmcowctl grow gives it room online; one under no-space = queue holds such a write, SIGTERM still exits cleanly with it waiting; a space that fills while a table reload is due reloads with its write waiting (the noflush suspend hands the write back), its written chunks read and rewrite meanwhile, and after a restart dmcowctl grow lets the write finish; and a file grown while no daemon ran is used by the next one (its loop device told the new size), which finishes the write; a qcow2 space on a filesystem with no room is full instead of failing fills with EIO, and goes on once room is freed.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow
# no-space = queue holds writes across a daemon restart on purpose (q's and r's, for minutes under
# emulation): more than the 60 s after which the kernel reports a task blocked that long (a hang
# longer than this is still reported)
echo 480 >/proc/sys/kernel/hung_task_timeout_secs

BASE=/tmp/base.img
head -c 16777216 /dev/urandom >"$BASE"
base_sum=$(sum "$BASE")
# The qcow2 space lives on a small filesystem of its own, which the scenario fills.
truncate -s 48M /tmp/small.img
mkfs.ext4 -q -m 0 -F /tmp/small.img
mkdir -p /tmp/small
mount -o loop /tmp/small.img /tmp/small || fail "mount the small filesystem"
# 8 data chunks after the metadata (8,454,144 bytes for this base)
format_spaces e:native:8978432 q:native:8978432 a:native:8978432 r:native:8978432
COWDIR=/tmp/small format_spaces z:qcow2
free_chunks() { dmcowctl info --json "/tmp/$1.cow" | sed 's/.*"free_chunks":\([0-9]*\).*/\1/'; }
DATA=$(free_chunks e)
[ "$DATA" -ge 4 ] && [ "$DATA" -le 24 ] || fail "the small native spaces have $DATA data chunks; the scenario wants a few"
step "native spaces e and q hold $DATA chunks of 64 KiB each"
write_conf e:native q:native a:native r:native
echo "dmcow.volumes.z { base = \"$BASE\", cow = \"/tmp/small/z.cow\", format = qcow2 }" >>"$DCONF"
cat >>"$DCONF" <<EOF
dmcow.volumes.e { no-space = error, no-space-timeout = 10s }
dmcow.volumes.q { no-space = queue }
dmcow.volumes.r { no-space = queue }
dmcow.volumes.z { no-space = queue }
dmcow.volumes.a { autoextend { threshold = 50, percent = 100 } }
EOF
start_daemon e q z a r

# put VOLUME CHUNK TAG: a direct 64 KiB write of a pattern named TAG at CHUNK (fullblock: a short
# read from the pipe would make dd write that part through the page cache); chunk VOLUME CHUNK
# prints the chunk's sha256.
put() { yes "$3" | head -c 65536 | dd of="/dev/mapper/$1" bs=65536 seek="$2" iflag=fullblock oflag=direct status=none 2>"/tmp/put-$1-$2.err"; }
chunk() { dd if="/dev/mapper/$1" bs=65536 skip="$2" count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1; }
want() { yes "$1" | head -c 65536 | sha256sum | cut -d' ' -f1; }
# ended_within SECONDS PID: PID ended within SECONDS
ended_within() {
	n=0
	while kill -0 "$2" 2>/dev/null; do
		[ $n -lt "$1" ] || return 1
		sleep 1
		n=$((n + 1))
	done
}
state() { dmcowctl status --json | tr '{' '\n' | grep "\"name\":\"$1\"" | sed 's/.*"state":"\([a-z]*\)".*/\1/'; }

step "fill e and q: every data chunk written"
for v in e q; do
	c=0
	while [ $c -lt "$DATA" ]; do
		put $v $c "$v$c" || fail "write $c of $DATA to $v: $(cat /tmp/put-$v-$c.err)"
		c=$((c + 1))
	done
done
wait_for "[ \"\$(state e)\" = serving ] && [ \"\$(state q)\" = serving ]" 30 1

step "e (no-space = error, 10 s): a write to a new chunk fails with ENOSPC after the timeout"
t0=$(date +%s)
rc=0
put e 100 new || rc=$?
waited=$(($(date +%s) - t0))
[ $rc != 0 ] || fail "a write to a new chunk of the full space e succeeded"
grep -q "No space left on device" /tmp/put-e-100.err || fail "the write failed, but not with ENOSPC: $(cat /tmp/put-e-100.err)"
[ $waited -ge 9 ] || fail "the write failed after $waited s, before the 10 s timeout"
[ $waited -le 40 ] || fail "the write failed only after $waited s"
[ "$(state e)" = full ] || fail "e's state is $(state e), not full"
t0=$(date +%s)
rc=0
put e 101 new || rc=$?
[ $rc != 0 ] && grep -q "No space left on device" /tmp/put-e-101.err || fail "the next new chunk of e: $(cat /tmp/put-e-101.err)"
[ $(($(date +%s) - t0)) -le 5 ] || fail "past the timeout, a new chunk still waited $(($(date +%s) - t0)) s"
step "ENOSPC after $waited s, and at once past the timeout"

step "written chunks, unwritten reads and other volumes go on while e is full"
put e 1 again || fail "rewrite of a written chunk of e: $(cat /tmp/put-e-1.err)"
[ "$(chunk e 1)" = "$(want again)" ] || fail "e's rewritten chunk 1 reads back wrong"
[ "$(chunk e 2)" = "$(want e2)" ] || fail "e's chunk 2 changed"
[ "$(chunk e 100)" = "$(dd if="$BASE" bs=65536 skip=100 count=1 status=none | sha256sum | cut -d' ' -f1)" ] ||
	fail "e's unwritten chunk 100 does not read as the base"
put z 0 z0 || fail "write to z while e is full: $(cat /tmp/put-z-0.err)"

step "dmcowctl grow e --by 1M: new chunks of e are written again, without a restart"
dmcowctl grow e --by 1M >/tmp/grow.out 2>&1 || fail "dmcowctl grow e: $(cat /tmp/grow.out)"
cat /tmp/grow.out
put e 100 grown || fail "a new chunk of e after the grow: $(cat /tmp/put-e-100.err)"
[ "$(chunk e 100)" = "$(want grown)" ] || fail "e's chunk 100 reads back wrong after the grow"
wait_for "[ \"\$(state e)\" = serving ]" 30 1

step "q (no-space = queue): a write to a new chunk waits"
put q 200 queued &
QPUT=$!
sleep 5
kill -0 $QPUT 2>/dev/null || fail "the write to a new chunk of the full space q ended: $(cat /tmp/put-q-200.err)"
[ "$(state q)" = full ] || fail "q's state is $(state q), not full"
[ "$(grep -c 'volume q: CoW space full' "$DLOG.run")" = 1 ] || fail "q's full state flapped: $(grep 'volume q:' "$DLOG.run" | tail)"
# show_q WHY: fail with what the kernel and the daemon say of q
show_q() { fail "$1: $(dmsetup info q; dmsetup status q; dmsetup table q; grep 'volume q' "$DLOG.run" | tail -8)"; }
put q 3 again &
REWRITE=$!
ended_within 60 $REWRITE || show_q "a rewrite of a written chunk of q waits"
wait $REWRITE || show_q "a rewrite of a written chunk of q failed: $(cat /tmp/put-q-3.err)"

step "r (queue): $((DATA + 1)) writes at once into its $DATA chunks; one waits for room while the others' chunks are committed"
RPIDS=
c=0
while [ $c -le "$DATA" ]; do
	put r $c "r$c" &
	RPIDS="$RPIDS $!:$c"
	c=$((c + 1))
done
wait_for "[ \"\$(state r)\" = full ]" 60 1
# running_puts: the "PID:CHUNK" of r's writes still running
running_puts() { for p in $RPIDS; do ! kill -0 "${p%%:*}" 2>/dev/null || echo "$p"; done; }
wait_for "[ \$(running_puts | wc -l) = 1 ]" 60 1
RWAIT=$(running_puts)
RW=${RWAIT#*:}
for p in $RPIDS; do
	[ "$p" = "$RWAIT" ] || wait "${p%%:*}" || fail "the write to r's chunk ${p#*:} failed: $(cat "/tmp/put-r-${p#*:}.err")"
done
# show_r WHY: fail with what the kernel and the daemon say of r
show_r() { fail "$1: $(dmsetup info r; dmsetup status r; dmsetup table r; grep 'volume r' "$DLOG.run" | tail -8)"; }
step "a table reload comes due while r is full (reload.max-delay 2 s): it completes with the write to chunk $RW waiting"
deadline=$(($(date +%s) + 60))
until [ "$(mapped_sectors r)" = $((DATA * 128)) ]; do
	[ "$(date +%s)" -lt $deadline ] || show_r "r's $DATA written chunks are not all in mapped segments after 60 s"
	sleep 1
done
dmsetup info r | grep -q '^State: *ACTIVE' || show_r "r is left suspended"
kill -0 "${RWAIT%%:*}" 2>/dev/null || show_r "the write to r's chunk $RW ended: $(cat "/tmp/put-r-$RW.err")"
[ "$(state r)" = full ] || show_r "r is $(state r), not full"
step "written chunks of r read back and take rewrites; unwritten ones read as the base; the write still waits"
c=0
while [ $c -le "$DATA" ]; do
	[ $c = "$RW" ] || [ "$(chunk r $c)" = "$(want "r$c")" ] || show_r "r's chunk $c reads back wrong"
	c=$((c + 1))
done
RRE=$(((RW + 1) % (DATA + 1)))
timeout 60 sh -c "yes again | head -c 65536 | dd of=/dev/mapper/r bs=65536 seek=$RRE iflag=fullblock oflag=direct status=none" ||
	show_r "a rewrite of r's chunk $RRE"
[ "$(chunk r $RRE)" = "$(want again)" ] || show_r "r's rewritten chunk $RRE reads back wrong"
[ "$(chunk r 150)" = "$(dd if="$BASE" bs=65536 skip=150 count=1 status=none | sha256sum | cut -d' ' -f1)" ] ||
	show_r "r's unwritten chunk 150 does not read as the base"
kill -0 "${RWAIT%%:*}" 2>/dev/null || show_r "the write to r's chunk $RW ended"

step "SIGTERM with the writes to q and r waiting: a clean exit; q's file grows while no daemon runs"
stop_daemon
truncate -s +1M /tmp/q.cow
start_daemon e q z a r
rc=0
wait $QPUT || rc=$?
[ $rc = 0 ] || fail "the write that waited for room in q failed: $(cat /tmp/put-q-200.err)"
[ "$(chunk q 200)" = "$(want queued)" ] || fail "q's chunk 200 reads back wrong"
[ "$(chunk q 3)" = "$(want again)" ] || fail "q's chunk 3 changed"
step "dmcowctl grow r --by 1M: the write that waited through the reload and the restart finishes"
kill -0 "${RWAIT%%:*}" 2>/dev/null || show_r "the write to r's chunk $RW ended before the grow"
dmcowctl grow r --by 1M >/tmp/grow-r.out 2>&1 || fail "dmcowctl grow r: $(cat /tmp/grow-r.out)"
ended_within 60 "${RWAIT%%:*}" || show_r "the write to r's chunk $RW still waits after the grow"
wait "${RWAIT%%:*}" || fail "the write to r's chunk $RW failed: $(cat "/tmp/put-r-$RW.err")"
[ "$(chunk r "$RW")" = "$(want "r$RW")" ] || show_r "r's chunk $RW reads back wrong"
wait_for "[ \"\$(state r)\" = serving ]" 30 1

step "z (qcow2): its filesystem full, new chunks wait instead of failing with EIO"
avail=$(df -B1 --output=avail /tmp/small | tail -1)
fallocate -l $((avail - 131072)) /tmp/small/filler || fail "fill the small filesystem"
dd if=/dev/urandom of=/tmp/zdata bs=1M count=4 status=none
dd if=/tmp/zdata of=/dev/mapper/z bs=1M seek=4 oflag=direct status=none 2>/tmp/z.err &
ZPUT=$!
deadline=$(($(date +%s) + 120))
until [ "$(state z)" = full ]; do
	kill -0 $ZPUT 2>/dev/null || fail "the write to z ended before z was full: $(cat /tmp/z.err); $(df /tmp/small; grep 'volume z' "$DLOG.run" | tail -5)"
	[ "$(date +%s)" -lt $deadline ] || fail "z is not full: $(df /tmp/small; dmsetup status z; grep 'volume z' "$DLOG.run" | tail -5)"
	sleep 1
done
dmcowctl status | grep -A1 '^z ' | grep -q 'filesystem holding' || fail "z's status does not say its filesystem is full: $(dmcowctl status)"
kill -0 $ZPUT 2>/dev/null || fail "the write to z ended while its filesystem is full: $(cat /tmp/z.err)"
rm /tmp/small/filler
rc=0
wait $ZPUT || rc=$?
[ $rc = 0 ] || fail "the write to z failed: $(cat /tmp/z.err)"
[ "$(dd if=/dev/mapper/z bs=1M skip=4 count=4 iflag=direct status=none | sha256sum)" = "$(sha256sum </tmp/zdata)" ] ||
	fail "z's 4 MiB read back wrong"
wait_for "[ \"\$(state z)\" = serving ]" 30 1
! dmesg | grep -qi "I/O error" || fail "an I/O error in the kernel log: $(dmesg | grep -i 'I/O error' | head)"

step "a (autoextend at 50%, by 100%): fio writes 4 MiB of new chunks into its 8, with no I/O error"
size0=$(stat -c %s /tmp/a.cow)
fio --name=a --filename=/dev/mapper/a --rw=randwrite --bs=64k --size=4M --direct=1 --ioengine=psync \
	--verify=crc32c --do_verify=1 --output=/tmp/fio-a.log >/dev/null 2>&1 || fail "fio on a: $(tail -20 /tmp/fio-a.log)"
size1=$(stat -c %s /tmp/a.cow)
# 64 chunks written into its $DATA (a is as large as e): it grew by the rest at least; more is not
# sure, as the autoextend that the last commits start may still be under way when fio ends
[ "$size1" -ge $((size0 + (64 - DATA) * 65536)) ] || fail "a.cow grew from $size0 to $size1 bytes only"
grep -q "volume a: CoW space .* autoextend threshold 50%" "$DLOG.run" || fail "no autoextend in the log"
step "a.cow grew from $size0 to $size1 bytes as fio wrote"

stop_daemon
[ "$(sum "$BASE")" = "$base_sum" ] || fail "the base changed"
qemu-img check /tmp/small/z.cow >/tmp/zcheck.log 2>&1 || fail "qemu-img check z: $(cat /tmp/zcheck.log)"
step "done: the base unchanged, z passes qemu-img check"
