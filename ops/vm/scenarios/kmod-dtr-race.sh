# Two tables of one volume destroyed at once (two devices of one ident created, reloaded and removed in parallel loops, fills uncommitted): exactly one destructor waits for the commits, so no volume goes with a filled chunk the daemon did not commit; a table created while the last one waits revives the volume.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

ROUNDS=${1:-200}
BUDGET=${2:-60}	# seconds for the rounds under emulation (ops/test: about 70 rounds); ARGS "200 600" for all 200
BASE=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE")
TABLE="0 $SIZE cow vol1 $BASE $COW 64"
head -c 4096 /dev/urandom >/tmp/blk
# The responder commits only on FLUSH: every fill is uncommitted until a removal asks.
start_responder resp --commit flush

# loop NAME FIRST_CHUNK RELOAD: create NAME, write a chunk, optionally reload it (the old table
# is destroyed by the resume), remove it; until ROUNDS rounds or the budget is spent.
loop() {
	end=$(($(date +%s) + BUDGET))
	r=0
	while [ $r -lt "$ROUNDS" ] && [ "$(date +%s)" -lt $end ]; do
		echo "$TABLE" | dmsetup create "$1" || { echo "create $1 failed in round $r"; return 1; }
		dmsetup mknodes "$1"
		c=$(($2 + (r % 120) * 2))
		dd if=/tmp/blk of="/dev/mapper/$1" bs=4096 count=1 seek=$((c * 8 + 1)) oflag=direct status=none ||
			{ echo "write to $1 chunk $c failed in round $r"; return 1; }
		if [ "$3" = reload ]; then
			echo "$TABLE" | dmsetup load "$1" && dmsetup resume "$1" || { echo "reload of $1 failed in round $r"; return 1; }
		fi
		dmsetup remove "$1" || { echo "remove $1 failed in round $r"; return 1; }
		r=$((r + 1))
	done
	echo "$r" >"/tmp/$1.rounds"
}

step "two devices of vol1 created, written, reloaded and removed in parallel loops"
loop a 0 keep >/tmp/a.out 2>&1 &
pa=$!
loop b 1 reload >/tmp/b.out 2>&1 &
pb=$!
wait $pa || fail "loop a: $(cat /tmp/a.out)"
wait $pb || fail "loop b: $(cat /tmp/b.out)"
step "rounds: a $(cat /tmp/a.rounds), b $(cat /tmp/b.rounds) (of $ROUNDS; budget ${BUDGET} s)"
wait_log /tmp/resp.log '^VOLUME_GONE' || fail "no VOLUME_GONE"
sleep 1
dmsetup ls | grep -v '^No devices found' | grep -q . && fail "devices left: $(dmsetup ls)"

step "every FILLED chunk was committed before its volume went"
python3 - /tmp/resp.log <<'PY' || fail "a volume went with uncommitted chunks (see above)"
import re, sys
pending, gone, fills, lost = {}, 0, 0, 0
for line in open(sys.argv[1]):
    m = re.match(r"FILLED vol=(\d+) chunk=(\d+) ", line)
    if m:
        pending.setdefault(m[1], set()).add(m[2]); fills += 1; continue
    m = re.match(r"-> COMMITTED vol=(\d+) chunk=(\d+)$", line)
    if m:
        pending.get(m[1], set()).discard(m[2]); continue
    m = re.match(r"VOLUME_GONE vol=(\d+)", line)
    if m:
        gone += 1
        left = pending.pop(m[1], set())
        if left:
            lost += 1
            print("volume %s went with chunks %s uncommitted" % (m[1], sorted(left, key=int)))
print("%d volumes gone, %d fills, %d volumes lost commits" % (gone, fills, lost))
sys.exit(1 if lost or not gone or not fills else 0)
PY
dmesg | grep 'removed with .* filled chunks' && fail "a volume was removed with chunks the daemon did not commit"
grep -q '^VOLUME ' /tmp/resp.log || fail "no VOLUME"
step "volumes: $(grep -c '^VOLUME ' /tmp/resp.log) created, $(grep -c '^VOLUME_GONE' /tmp/resp.log) gone; FLUSHes: $(grep -c '^FLUSH' /tmp/resp.log)"
stop_responder
