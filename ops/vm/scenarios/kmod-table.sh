# Every bad cow table line is refused with a precise message, and the same ident must keep its devices and chunk size.
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/kmod/tests/vm-lib.sh"
load_dmcow

BASE=$(make_loop base.img 8388608 random)
COW=$(make_loop cow.img 16777216 zero)
COW2=$(make_loop cow2.img 16777216 zero)
SIZE=$(sectors "$BASE")

# refused TABLE MESSAGE: creating a device from TABLE fails and the kernel log says MESSAGE.
refused() {
	if echo "$1" | dmsetup create bad 2>/dev/null; then
		dmsetup remove bad
		fail "accepted: $1"
	fi
	dmesg | tail -5 | grep -q "cow: $2" || fail "no \"$2\" for: $1 (log: $(dmesg | tail -3))"
	dmsetup remove bad 2>/dev/null || true
	step "refused: $1 -> $2"
}

refused "0 $SIZE cow vol1 $BASE $COW" "Expected <ident> <base_dev> <cow_dev> <chunk_sectors>"
refused "0 $SIZE cow vol1 $BASE $COW abc" "chunk_sectors is not a number"
refused "0 $SIZE cow vol1 $BASE $COW 4" "chunk_sectors must be a power of two"
refused "0 $SIZE cow vol1 $BASE $COW 96" "chunk_sectors must be a power of two"
refused "0 $SIZE cow vol1 $BASE $COW 64 1 discard" "Unknown optional argument"
refused "0 $SIZE cow vol1 $BASE $COW 64 2 x" "#opt_args does not match"
refused "0 $SIZE cow vol1 $BASE $COW 64 x" "#opt_args is not a number"
refused "0 $SIZE cow $(printf 'v%.0s' $(seq 64)) $BASE $COW 64" "ident must be 1 to 63 characters"
refused "0 $SIZE cow vol1 /dev/nonexistent $COW 64" "Cannot open base_dev"
refused "0 $SIZE cow vol1 $BASE /dev/nonexistent 64" "Cannot open cow_dev"
refused "0 $SIZE cow vol1 $BASE $BASE 64" "base_dev and cow_dev are the same device"
refused "0 $((SIZE + 64)) cow vol1 $BASE $COW 64" "base_dev is shorter than the segment's end"
refused "0 100 cow vol1 $BASE $COW 64" "segment end is neither a multiple of chunk_sectors nor the base's end"
refused "$(printf '0 32 linear %s 0\n32 %s cow vol1 %s %s 64' "$COW" $((SIZE - 32)) "$BASE" "$COW")" "segment start is not a multiple of chunk_sectors"

step "a valid table, with #opt_args 0, prints back"
dmsetup create good --table "0 $SIZE cow vol1 $BASE $COW 64 0" || fail "valid table refused"
dmsetup table good | grep -q " cow vol1 .* 64\$" || fail "table: $(dmsetup table good)"
refused "0 $SIZE cow vol1 $BASE $COW2 64" "ident already in use with other base or CoW device"
refused "0 $SIZE cow vol1 $BASE $COW 128" "ident already in use with another chunk_sectors"
dmsetup create other --table "0 $SIZE cow vol2 $BASE $COW2 64" || fail "a second ident on the same base was refused"
dmsetup remove other
dmsetup remove good

# dm_discard_bytes DM_NAME: the device's discard_max_bytes.
dm_discard_bytes() { cat "/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')/queue/discard_max_bytes"; }
step "discards are offered when the CoW device takes them, whatever the (read-only) base does"
echo 0 >"/sys/block/$(basename "$BASE")/queue/discard_max_bytes"
[ "$(cat "/sys/block/$(basename "$BASE")/queue/discard_max_bytes")" = 0 ] || fail "cannot turn off the base's discards"
dmsetup create d1 --table "0 $SIZE cow vol3 $BASE $COW 64" || fail "table refused"
[ "$(dm_discard_bytes d1)" -gt 0 ] || fail "no discards offered over a CoW device that takes them"
dmsetup remove d1
echo 0 >"/sys/block/$(basename "$COW2")/queue/discard_max_bytes"
dmsetup create d2 --table "0 $SIZE cow vol4 $BASE $COW2 64" || fail "table refused"
[ "$(dm_discard_bytes d2)" = 0 ] || fail "discards offered over a CoW device that does not take them"
dmsetup remove d2

step "IMA: a table load's measurement carries the target's name and version, as other dm targets'"
# The policy can be loaded once per boot (no CONFIG_IMA_WRITE_POLICY): only this scenario does.
mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
echo "measure func=CRITICAL_DATA label=device-mapper template=ima-buf" >/sys/kernel/security/ima/policy ||
	fail "cannot load an IMA policy"
dmsetup create ima --table "0 $SIZE cow vol5 $BASE $COW 64" || fail "table refused"
python3 -c '
import sys
for line in open("/sys/kernel/security/ima/ascii_runtime_measurements"):
    f = line.split()
    if len(f) >= 6 and f[2] == "ima-buf" and f[4].startswith("dm_table_load"):
        print(bytes.fromhex(f[5]).decode(errors="replace"))' >/tmp/ima
grep -q "target_name=cow,target_version=1\.[0-9]*\.[0-9]*,ident=vol5,base=[0-9]*:[0-9]*,cow=[0-9]*:[0-9]*,chunk_sectors=64;" /tmp/ima ||
	fail "no cow target with its name and version in the IMA measurement: $(tail -c 600 /tmp/ima)"
dmsetup remove ima
