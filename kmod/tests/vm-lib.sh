# SPDX-License-Identifier: GPL-2.0
# Helpers for the kmod-*.sh VM scenarios; source after ops/vm/lib.sh.

KT=$DMCOW_ROOT/kmod/tests
RESPONDER="python3 $KT/responder.py"
IOCHECK="python3 $KT/iocheck.py"

# make_loop NAME BYTES random|zero: a loop device over a new file /tmp/NAME.
make_loop() {
	if [ "$3" = zero ]; then
		truncate -s "$2" "/tmp/$1"
	else
		head -c "$2" /dev/urandom >"/tmp/$1"
	fi
	losetup -f --show "/tmp/$1"
}

# sectors DEV: the device's size in 512-byte sectors.
sectors() {
	blockdev --getsz "$1"
}

# linear_base LOOP: BASE becomes a dm-linear device (bl) over LOOP, so that suspending it holds a
# fill's copy from the base deterministically.
linear_base() {
	dmsetup create bl --table "0 $(sectors "$1") linear $1 0"
	mapper_nodes
	BASE=/dev/mapper/bl
}

# start_responder NAME ARGS...: run the responder in the background, logging to
# /tmp/NAME.log, and wait until its replay is done. Sets RESP_PID.
start_responder() {
	name=$1
	shift
	rm -f "/tmp/$name.ready"
	$RESPONDER --log "/tmp/$name.log" --ready "/tmp/$name.ready" "$@" &
	RESP_PID=$!
	i=0
	while [ ! -f "/tmp/$name.ready" ]; do
		kill -0 "$RESP_PID" 2>/dev/null || fail "responder $name exited early: $(cat "/tmp/$name.log" 2>/dev/null)"
		i=$((i + 1))
		[ $i -lt 300 ] || fail "responder $name not ready after 30 s"
		sleep 0.1
	done
}

stop_responder() {
	kill "$RESP_PID" 2>/dev/null || true
	wait "$RESP_PID" 2>/dev/null || true
}

# dev_sum DEV: sha256 of the device read with O_DIRECT.
dev_sum() {
	dd if="$1" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1
}

# wait_gone PID SECONDS: true once PID has exited, false if it is still running after SECONDS.
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $(($2 * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# wait_log FILE REGEX: true once a line of FILE matches REGEX (within 10 s).
wait_log() {
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 100 ] || return 1
		sleep 0.1
	done
}
