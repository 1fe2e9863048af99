# The dm-cow module loads into the booted kernel, registers the "cow" target and /dev/dm-cow, and unloads.
. "$DMCOW_ROOT/ops/vm/lib.sh"
load_dmcow
dmsetup targets | grep -q '^cow ' || fail "the cow target is not registered: $(dmsetup targets | tr '\n' ' ')"
[ -c /dev/dm-cow ] || fail "no control device /dev/dm-cow"
step "registered: $(dmsetup targets | grep '^cow ')"
rmmod dm_cow || fail "rmmod dm_cow failed"
if dmsetup targets | grep -q '^cow '; then fail "the cow target is still registered after rmmod"; fi
[ ! -e /dev/dm-cow ] || fail "/dev/dm-cow is still there after rmmod"
step "unloaded"
