# Grants (protocol 4): a version-3 daemon is refused naming both versions; a first write to a granted chunk fills at its slot with no FAULT (copy, none for a whole-chunk write, zero for a zero grant) and FILLED names the grant; bad grants (another grant's chunks, a committed chunk, past the volume or the CoW device, unaligned, fill none, a live id, past max_grants) get EINVAL naming why; a new daemon gets GRANT_LIVE with the used slots before REPLAY_DONE; a mapped segment over a free slot is refused, over a used one accepted; REVOKE answers exactly the used slots, and a write to a revoked slot faults; a chunk that faulted before its GRANT has its slot used; a used-up grant stays live until revoked, and REVOKE of an id never granted answers count 0; GRANT_LOW comes once, at a quarter; a write to a granted slot with no daemon completes and its FILLED comes in the replay.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

# 8 MiB volume of 64-sector (32 KiB) chunks (256), 16 MiB CoW device (32768 sectors)
BASE=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
SIZE=$(sectors "$BASE")
P="vol1 $BASE $COW 64"
CH=32768

# write_chunk CHUNK BYTES: BYTES of new data at the chunk's start (kept in /tmp/wCHUNK), fsynced.
write_chunk() {
	head -c "$2" /dev/urandom >"/tmp/w$1"
	dd if="/tmp/w$1" of=/dev/mapper/c1 bs="$2" seek=$(($1 * CH / $2)) oflag=direct conv=fsync status=none ||
		fail "write to chunk $1"
}
chunk_of() { dd if="$1" bs=$CH skip="$2" count=1 iflag=direct status=none; }
base_chunk() { dd if=/tmp/base.img bs=$CH skip="$1" count=1 status=none; }
# at_slot SECTOR: the chunk's bytes at SECTOR of the CoW file
at_slot() { dd if=/tmp/cow.img bs=512 skip="$1" count=64 status=none; }
count() { grep -c "$1" /tmp/"$2".log || true; }
# expect_chunk CHUNK WRITTEN_BYTES base|zero: /tmp/expectCHUNK, the write then the rest of the chunk
expect_chunk() {
	{
		cat "/tmp/w$1"
		if [ "$3" = base ]; then base_chunk "$1" | tail -c $((CH - $2)); else head -c $((CH - $2)) /dev/zero; fi
	} >"/tmp/expect$1"
}
reload_table() {
	dmsetup load c1 "$1" && dmsetup suspend c1 && dmsetup resume c1
}
refused_grant() {
	grep -q "^GRANT-RESULT vol1 id=$1 .* EINVAL$" /tmp/"$3".log || fail "grant $1 not refused: $(grep "id=$1 " /tmp/"$3".log)"
	dmesg | grep -q "rejected GRANT (type 20) for volume 1: .*$2" || fail "no '$2' in the kernel log: $(dmesg | grep rejected | tail -3)"
}

step "a version-3 daemon is refused, naming both versions"
$RESPONDER --hello-version 3 --log /tmp/v3.log || fail "the v3 responder: $(cat /tmp/v3.log)"
grep -q "^HELLO version=4 " /tmp/v3.log || fail "the module does not say version 4: $(cat /tmp/v3.log)"
grep -q "^HELLO-REFUSED EPROTO" /tmp/v3.log || fail "a v3 HELLO was not refused: $(cat /tmp/v3.log)"
dmesg | grep -q "daemon speaks protocol version 3, module speaks version 4" || fail "the refusal does not name both versions"

echo "0 $SIZE cow $P" | dmsetup create c1 || fail "creating c1"
mapper_nodes
start_responder resp1 --commit flush --state /tmp/state.json --grant vol1:1:16:16 --grant vol1:2:40:8:auto:zero
grep -q "^GRANT-RESULT vol1 id=1 first=16 count=16 cow=0 ok$" /tmp/resp1.log || fail "grant 1: $(grep GRANT /tmp/resp1.log)"
grep -q "^GRANT-RESULT vol1 id=2 first=40 count=8 cow=1024 ok$" /tmp/resp1.log || fail "grant 2: $(grep GRANT /tmp/resp1.log)"
[ "$(status_field c1 grants)" = 2 ] && [ "$(status_field c1 granted_free)" = 24 ] || fail "status after two grants: $(dmsetup status c1)"

step "first writes to granted chunks fill at their slots with no FAULT; FILLED names the grant"
write_chunk 16 4096
write_chunk 17 $CH
write_chunk 18 8192
write_chunk 40 4096
grep -q "^FAULT" /tmp/resp1.log && fail "a granted chunk faulted: $(grep FAULT /tmp/resp1.log)"
for f in "16 cow=0" "17 cow=64" "18 cow=128"; do
	grep -q "^FILLED vol=1 chunk=${f% *} seq=[0-9]* ${f#* } grant=1$" /tmp/resp1.log ||
		fail "no FILLED naming grant 1 for chunk $f: $(grep FILLED /tmp/resp1.log)"
done
grep -q "^FILLED vol=1 chunk=40 seq=[0-9]* cow=1024 grant=2$" /tmp/resp1.log || fail "no FILLED for chunk 40 of grant 2"
expect_chunk 16 4096 base
expect_chunk 17 $CH base
expect_chunk 18 8192 base
expect_chunk 40 4096 zero
for c in "16 0" "17 64" "18 128" "40 1024"; do
	chunk_of /dev/mapper/c1 "${c% *}" | cmp -s - "/tmp/expect${c% *}" || fail "chunk ${c% *} does not read as written over its fill"
	at_slot "${c#* }" | cmp -s - "/tmp/expect${c% *}" || fail "chunk ${c% *} is not at its slot ${c#* }"
done
[ "$(status_field c1 faults)" = 0 ] && [ "$(status_field c1 granted_fills)" = 4 ] &&
	[ "$(status_field c1 granted_free)" = 20 ] && [ "$(status_field c1 nocopy_fills)" = 1 ] &&
	[ "$(status_field c1 zero_fills)" = 1 ] && [ "$(status_field c1 filled_uncommitted)" = 0 ] ||
	fail "status after four granted fills: $(dmsetup status c1)"

step "chunk 5, outside the grants, faults as before"
write_chunk 5 4096
grep -q "^FAULT vol=1 chunk=5 " /tmp/resp1.log || fail "no FAULT for chunk 5"
[ "$(status_field c1 faults)" = 1 ] || fail "faults= is not 1: $(dmsetup status c1)"
stop_responder

step "a new daemon gets GRANT_LIVE with the used slots before REPLAY_DONE; bad grants get EINVAL naming why"
start_responder resp2 --commit flush --state /tmp/state.json --grant vol1:3:20:4 --grant vol1:4:17:1 \
	--grant vol1:5:250:16 --grant vol1:6:60:4:32640 --grant vol1:7:60:4:65 --grant vol1:8:60:4:auto:none \
	--grant vol1:1:60:4
grep -n "^GRANT_LIVE vol=1 id=1 first=16 count=16 cow=0 fill=copy used=0,1,2$\|^REPLAY_DONE" /tmp/resp2.log |
	head -2 | tr '\n' ' ' | grep -q "GRANT_LIVE.*REPLAY_DONE" || fail "no GRANT_LIVE for grant 1 before REPLAY_DONE: $(cat /tmp/resp2.log)"
grep -q "^GRANT_LIVE vol=1 id=2 first=40 count=8 cow=1024 fill=zero used=0$" /tmp/resp2.log || fail "no GRANT_LIVE for grant 2"
refused_grant 3 "grant 3: chunk 20 is in another live grant" resp2
refused_grant 4 "grant 4: chunk 17 is committed" resp2
refused_grant 5 "chunks 250 + 16 beyond the volume's 256 chunks" resp2
refused_grant 6 "cow_sector 32640 + 4 chunks beyond the CoW device's 32768 sectors" resp2
refused_grant 7 "cow_sector 65 not a multiple of chunk_sectors 64" resp2
refused_grant 8 "fill 2 is not COPY or ZERO" resp2
refused_grant 1 "grant 1: a live grant has this id" resp2
[ "$(status_field c1 grants)" = 2 ] || fail "a refused grant changed the count: $(dmsetup status c1)"
stop_responder

step "past max_grants a grant is refused"
echo 3 >/sys/module/dm_cow/parameters/max_grants
start_responder resp3 --commit flush --state /tmp/state.json --grant vol1:10:100:1 --grant vol1:11:101:1
echo 64 >/sys/module/dm_cow/parameters/max_grants
grep -q "^GRANT-RESULT vol1 id=10 .* ok$" /tmp/resp3.log || fail "the third grant was refused"
refused_grant 11 "grant 11: the volume has max_grants live grants" resp3

step "a mapped segment over a free granted slot is refused; over a used one it loads"
s40=$((40 * 64))
{
	echo "0 $s40 cow $P"
	echo "$s40 128 cow $P 2 mapped 1024"
	echo "$((s40 + 128)) $((SIZE - s40 - 128)) cow $P"
} >/tmp/mapped41
dmsetup load c1 /tmp/mapped41 2>/dev/null && fail "a mapped segment over chunk 41, a free slot of grant 2, loaded"
dmesg | grep -q "a mapped segment over chunks 40-41 covers a free slot of live grant 2" || fail "the refusal names no grant"
{
	echo "0 $s40 cow $P"
	echo "$s40 64 cow $P 2 mapped 1024"
	echo "$((s40 + 64)) $((SIZE - s40 - 64)) cow $P"
} >/tmp/mapped40
reload_table /tmp/mapped40 || fail "a mapped segment over chunk 40, a used slot, did not load"
chunk_of /dev/mapper/c1 40 | cmp -s - /tmp/expect40 || fail "chunk 40 does not read its data through the mapped segment"
echo "0 $SIZE cow $P" >/tmp/plain
reload_table /tmp/plain || fail "back to one cow segment"
stop_responder

step "REVOKE answers exactly the used slots; a write to a revoked slot faults"
start_responder resp4 --commit flush --state /tmp/state.json --revoke vol1:1
grep -q "^REVOKE-RESULT vol1 id=1 ok$" /tmp/resp4.log || fail "REVOKE of grant 1: $(grep REVOKE /tmp/resp4.log)"
wait_log /tmp/resp4.log "^REVOKED vol=1 id=1 first=16 count=16 cow=0 fill=copy used=0,1,2$" ||
	fail "REVOKED does not list slots 0,1,2 used: $(grep REVOKED /tmp/resp4.log)"
[ "$(status_field c1 grants)" = 2 ] && [ "$(status_field c1 granted_free)" = 8 ] || fail "status after the revoke: $(dmsetup status c1)"
write_chunk 19 4096
grep -q "^FAULT vol=1 chunk=19 " /tmp/resp4.log || fail "a write to revoked chunk 19 did not fault"
expect_chunk 19 4096 base
chunk_of /dev/mapper/c1 19 | cmp -s - /tmp/expect19 || fail "chunk 19 does not read as written"

step "a chunk that faulted before its GRANT came has its slot used"
write_chunk 100 4096
grep -q "^FILLED vol=1 chunk=100 seq=[0-9]* cow=[0-9]* grant=10$" /tmp/resp4.log || fail "no FILLED naming grant 10"
stop_responder
start_responder resp4b --commit flush --state /tmp/state.json --hold-faults
head -c 4096 /dev/urandom >/tmp/w60
dd if=/tmp/w60 of=/dev/mapper/c1 bs=4096 seek=$((60 * 8)) oflag=direct conv=fsync status=none &
DD=$!
wait_log /tmp/resp4b.log "^FAULT vol=1 chunk=60 " || fail "no FAULT for chunk 60"
stop_responder
start_responder resp4c --commit flush --state /tmp/state.json --grant vol1:12:60:4
grep -q "^GRANT-RESULT vol1 id=12 .* ok$" /tmp/resp4c.log || fail "grant 12 over faulted chunk 60: $(grep GRANT /tmp/resp4c.log)"
wait "$DD" || fail "the write to chunk 60 failed"
[ "$(status_field c1 granted_free)" = 10 ] || fail "chunk 60's slot counted free: $(dmsetup status c1)"
stop_responder

step "a used-up grant stays live until revoked; REVOKE of an id never granted answers count 0"
start_responder resp5 --commit flush --state /tmp/state.json --revoke vol1:10 --revoke vol1:99 --revoke vol1:2 \
	--revoke vol1:12 --grant vol1:20:120:8
grep -q "^GRANT_LIVE vol=1 id=10 first=100 count=1 cow=[0-9]* fill=copy used=0$" /tmp/resp5.log ||
	fail "no GRANT_LIVE for used-up grant 10: $(grep GRANT_LIVE /tmp/resp5.log)"
grep -q "^GRANT_LIVE vol=1 id=12 first=60 count=4 cow=[0-9]* fill=copy used=0$" /tmp/resp5.log ||
	fail "GRANT_LIVE of grant 12 does not show chunk 60's slot used: $(grep GRANT_LIVE /tmp/resp5.log)"
wait_log /tmp/resp5.log "^REVOKED vol=1 id=10 first=100 count=1 cow=[0-9]* fill=copy used=0$" || fail "REVOKE of used-up grant 10: $(grep REVOKED /tmp/resp5.log)"
wait_log /tmp/resp5.log "^REVOKED vol=1 id=99 first=0 count=0 " || fail "REVOKE of never-granted 99: $(grep REVOKED /tmp/resp5.log)"
wait_log /tmp/resp5.log "^REVOKED vol=1 id=2 first=40 count=8 cow=1024 fill=zero used=0$" || fail "REVOKE of grant 2"
wait_log /tmp/resp5.log "^REVOKED vol=1 id=12 first=60 count=4 cow=[0-9]* fill=copy used=0$" || fail "REVOKE of grant 12"
[ "$(status_field c1 grants)" = 1 ] && [ "$(status_field c1 granted_free)" = 8 ] || fail "status with grant 20 alone: $(dmsetup status c1)"

step "GRANT_LOW comes once, when the free slots fall to a quarter"
for c in 120 121 122 123 124; do write_chunk $c 4096; done
[ "$(count '^GRANT_LOW' resp5)" = 0 ] || fail "GRANT_LOW at 3 free of 8"
write_chunk 125 4096
wait_log /tmp/resp5.log "^GRANT_LOW vol=1 free=2$" || fail "no GRANT_LOW at 2 free of 8: $(tail -3 /tmp/resp5.log)"
write_chunk 126 4096
sleep 1
[ "$(count '^GRANT_LOW' resp5)" = 1 ] || fail "GRANT_LOW came again"
grep -q "^FAULT" /tmp/resp5.log && fail "a granted chunk faulted: $(grep FAULT /tmp/resp5.log)"
stop_responder

step "with no daemon a write to a granted slot completes; its FILLED comes in the replay"
head -c 4096 /dev/urandom >/tmp/w127
dd if=/tmp/w127 of=/dev/mapper/c1 bs=4096 seek=$((127 * 8)) oflag=direct status=none || fail "write to chunk 127 with no daemon"
[ "$(status_field c1 filled_uncommitted)" = 1 ] && [ "$(status_field c1 granted_free)" = 0 ] || fail "status after the last slot: $(dmsetup status c1)"
start_responder resp6 --commit flush --state /tmp/state.json
grep -n "^FILLED vol=1 chunk=127 seq=[0-9]* cow=[0-9]* grant=20$\|^REPLAY_DONE" /tmp/resp6.log | head -2 | tr '\n' ' ' |
	grep -q "FILLED.*REPLAY_DONE" || fail "no FILLED for chunk 127 in the replay: $(cat /tmp/resp6.log)"
grep -q "^GRANT_LIVE vol=1 id=20 first=120 count=8 cow=[0-9]* fill=copy used=0,1,2,3,4,5,6,7$" /tmp/resp6.log ||
	fail "no GRANT_LIVE of used-up grant 20: $(grep GRANT_LIVE /tmp/resp6.log)"
i=0
until [ "$(status_field c1 filled_uncommitted)" = 0 ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "chunk 127 not committed by the new daemon: $(dmsetup status c1)"
	sleep 0.1
done
expect_chunk 127 4096 base
chunk_of /dev/mapper/c1 127 | cmp -s - /tmp/expect127 || fail "chunk 127 does not read as written"

step "a volume removed with a live grant"
stop_responder
start_responder resp7 --commit flush --state /tmp/state.json --grant vol1:30:200:16
grep -q "^GRANT-RESULT vol1 id=30 .* ok$" /tmp/resp7.log || fail "grant 30"
dmsetup remove c1 || fail "removing c1 with a live grant"
stop_responder
step "PASS"
