# The replay after HELLO walks a volume's lists in batches of 256 chunks with the lock dropped in between: with 512 chunks of each kind (filled but not committed, granted with their fills held, faulted with no daemon) the new daemon gets VOLUME, 512 GRANTED, 512 FILLED, 512 FAULT and REPLAY_DONE, each chunk once and in that order, and every write completes with its data.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow max_copies=1

# 2,048 chunks of 4 KiB; the base is a dm-linear device, so that suspending it holds the fills.
BASE_LOOP=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE_LOOP")
linear_base "$BASE_LOOP"
for r in 0 2; do head -c 2097152 /dev/urandom >/tmp/r$r; done
# put R: one direct 2 MiB write of /tmp/rR at 2R MiB: 512 chunks in flight at once.
put() { dd if=/tmp/r$1 of=/dev/mapper/c1 bs=2M count=1 seek=$1 oflag=direct status=none; }
# put_halves: 512 direct 2 KiB writes in flight at once, into the first half of each of chunks
# 512-1023: a write that covers its chunk is its fill, so these leave half of each to copy from
# the base. Their data is /tmp/half repeated; /tmp/r1 is how those chunks must read.
head -c 512 /dev/urandom >/tmp/half
python3 -c '
half = open("/tmp/half", "rb").read() * 4
with open("/tmp/base.img", "rb") as f:
    f.seek(2 << 20)
    b = f.read(2 << 20)
open("/tmp/r1", "wb").write(b"".join(half + b[i + 2048:i + 4096] for i in range(0, 2 << 20, 4096)))'
put_halves() {
	fio --name=halves --filename=/dev/mapper/c1 --rw=write:2k --bs=2k --size=2M --offset=2M \
		--ioengine=libaio --direct=1 --iodepth=512 --iodepth_batch_submit=512 \
		--buffer_pattern="'/tmp/half'" --output=/tmp/fio-halves.log
}
# wait_field NAME VALUE: wait (30 s) until the status counter NAME is VALUE.
wait_field() {
	i=0
	until [ "$(status_field c1 "$1")" = "$2" ]; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "$1 is not $2 after 30 s: $(dmsetup status c1)"
		sleep 0.1
	done
}

# Every fill is a copy, so that the suspended base holds those of the half-written chunks.
start_responder resp1 --fill copy --commit never --exit-after-maps 1024
dmsetup create c1 --table "0 $SIZE cow vol1 $BASE $COW 8"
mapper_nodes

step "chunks 0-511 filled, not committed"
put 0 || fail "the write to chunks 0-511 failed"
[ "$(status_field c1 filled_uncommitted)" = 512 ] || fail "expected 512 uncommitted chunks: $(dmsetup status c1)"

step "chunks 512-1023 mapped with the base suspended: their fills wait; the responder exits"
dmsetup suspend bl
put_halves &
w1=$!
wait_gone "$RESP_PID" 60 || fail "responder 1 did not exit after 1024 MAPs"
wait_field faults_pending 0

step "chunks 1024-1535 written with no daemon: their faults wait"
put 2 &
w2=$!
wait_field faults_pending 512
kill -0 $w1 2>/dev/null && kill -0 $w2 2>/dev/null || fail "a write ended before the base was resumed"

step "a new responder gets every chunk once, in the protocol's order"
start_responder resp2 --fill copy --commit flush
# One pass over the log up to REPLAY_DONE: the kinds never go back (VOLUME, GRANTED, FILLED,
# FAULT), each kind names its 512 chunks once each, FILLED's seqs are 1 to 512 once each.
awk '
	/^REPLAY_DONE/ { done = 1; exit }
	$2 != "vol=1" { next }
	/^VOLUME / { k = 1 } /^GRANTED / { k = 2 } /^FILLED / { k = 3 } /^FAULT / { k = 4 }
	!k { next }
	{
		if (k < last) { print "out of order: " $0; bad = 1 }
		last = k
		split($3, c, "=")
		if (k == 3) { split($4, s, "="); if (s[2] < 1 || s[2] > 512 || seq[s[2]]++) { print "seq: " $0; bad = 1 } }
		lo = k == 3 ? 0 : k == 2 ? 512 : 1024
		if (k > 1 && (c[2] < lo || c[2] >= lo + 512 || seen[k, c[2]]++)) { print "chunk: " $0; bad = 1 }
		n[k]++
		k = 0
	}
	END {
		if (!done || n[1] != 1 || n[2] != 512 || n[3] != 512 || n[4] != 512) {
			printf "counts: VOLUME %d GRANTED %d FILLED %d FAULT %d, REPLAY_DONE %s\n", n[1], n[2], n[3], n[4], done ? "seen" : "missing"
			bad = 1
		}
		exit bad
	}' /tmp/resp2.log >/tmp/replay-check || fail "replay: $(head -5 /tmp/replay-check)"
step "replay: 1 VOLUME, 512 GRANTED, 512 FILLED, 512 FAULT, in order"

step "resuming the base lets the fills finish; every write reads back"
dmsetup resume bl
wait $w1 || fail "the write to chunks 512-1023 failed"
wait $w2 || fail "the write to chunks 1024-1535 failed"
sync /dev/mapper/c1
[ "$(status_field c1 filled_uncommitted)" = 0 ] || fail "not committed after sync: $(dmsetup status c1)"
[ "$(status_field c1 errors)" = 0 ] || fail "errors: $(dmsetup status c1)"
cp /tmp/base.img /tmp/expect
for r in 0 1 2; do dd if=/tmp/r$r of=/tmp/expect bs=2M seek=$r conv=notrunc status=none; done
$IOCHECK compare /dev/mapper/c1 /tmp/expect || fail "the device does not read as the base with the three writes"
dmsetup remove c1
stop_responder
dmsetup remove bl
