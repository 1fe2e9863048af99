# Harness self-test: write a pattern to /dev/vda and flush it, then keep writing without a
# flush until the power is cut ("write"); on the next boot the flushed pattern must read back
# ("verify").
. "$DMCOW_ROOT/ops/vm/lib.sh"
mode=$1
pattern() {
	yes "dm-cow power cut self-test $1" | head -c 4194304
}
case $mode in
write)
	pattern flushed | dd of=/dev/vda bs=1M conv=fsync status=none
	step "pattern flushed"
	echo "FLUSHED-MARKER"
	i=0
	while :; do
		pattern "unflushed $i" | dd of=/dev/vda bs=1M seek=8 status=none
		i=$((i + 1))
	done
	;;
verify)
	want=$(pattern flushed | sha256sum | cut -d' ' -f1)
	got=$(head -c 4194304 /dev/vda | sha256sum | cut -d' ' -f1)
	[ "$want" = "$got" ] || fail "the flushed pattern did not survive the power cut ($got != $want)"
	step "flushed pattern survived the power cut"
	;;
*) fail "usage: power-cut.sh write|verify" ;;
esac
