# Helpers for the end-to-end guest scripts (ops/vm/scenarios/e2e-*.sh, ops/vm/suites/*.guest.sh):
# the real dmcowd over the real module. Not executable: ops/test runs only executables here.
# Source after ops/vm/lib.sh:  . "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
BIN=$DMCOW_ROOT/target/dmcow/bin
# DMCOWD, DMCOWCTL: the commands start_daemon and dmcowctl run (the installed ones in
# package-check), the checkout's build by default.
DMCOWD=${DMCOWD:-$BIN/dmcowd}
DMCOWCTL=${DMCOWCTL:-$BIN/dmcowctl}
[ -x "$DMCOWD" ] || fail "run 'mvn -q -B package -DskipTests' first: no $DMCOWD"
# A small heap starts faster under software emulation; the defaults preallocate 256 MiB. The
# options are in one file, which ops/vm/cds dumps dmcowd's class-data sharing archive with.
export DMCOWD_JAVA_OPTS="${DMCOWD_JAVA_OPTS:-$(cat "$DMCOW_ROOT/ops/vm/dmcowd-java-opts")}"
# dmcowctl: the launcher's options but C1 alone for every command (C2 code crashes under TCG), and
# the checkout's dmcowctl with its archive (DMCOW_CTL_CDS, set by ops/vm/run): an installed one
# (package-check) has its own classes.
dmcowctl_opts=$(cat "$DMCOW_ROOT/ops/vm/dmcowctl-java-opts")
[ -z "${DMCOW_CTL_CDS:-}" ] || [ "$DMCOWCTL" != "$BIN/dmcowctl" ] ||
	dmcowctl_opts="$dmcowctl_opts -XX:SharedArchiveFile=$DMCOW_CTL_CDS -Xshare:on"
export DMCOWCTL_JAVA_OPTS="${DMCOWCTL_JAVA_OPTS:-$dmcowctl_opts}"
DCONF=${DCONF:-/tmp/dmcowd.conf}
DLOG=${DLOG:-/tmp/dmcowd.log}
DPID=
mkdir -p /run/dmcow /tmp/mnt
# A failing scenario shows the end of the daemon's log and the tables: the first things to read.
trap 'rc=$?; [ $rc = 0 ] || { echo "--- dmcowd log, last 100 lines ---"; cat "$DLOG" "$DLOG.run" 2>/dev/null | tail -n 100;
	echo "--- device-mapper tables ---"; dmsetup table 2>&1 | head -n 40; } >&2' EXIT

# dmcowctl ARGS: the admin tool, with a small, quick-starting JVM.
dmcowctl() {
	"$DMCOWCTL" "$@"
}

# write_conf VOLUME:FORMAT...: the daemon config for volumes whose base is $BASE and whose CoW
# space is /tmp/VOLUME.cow (or $COWDIR/VOLUME.cow); GRANT_WINDOW, if set, is dmcow.grant-window.
write_conf() {
	{
		echo "dmcow { commit-interval = ${COMMIT_INTERVAL:-1s}, admin-socket = /run/dmcow/dmcowd.sock }"
		echo "dmcow.reload { max-mappings = ${RELOAD_MAPPINGS:-1024}, max-delay = ${RELOAD_DELAY:-2s} }"
		[ -z "${GRANT_WINDOW:-}" ] || echo "dmcow.grant-window = $GRANT_WINDOW"
		for v in "$@"; do
			name=${v%%:*}
			fmt=${v#*:}
			echo "dmcow.volumes.$name { base = \"$BASE\", cow = \"${COWDIR:-/tmp}/$name.cow\", format = $fmt, chunk-size = 64k }"
		done
	} >"$DCONF"
}

# wait_for CONDITION [SECONDS [POLL]]: poll a shell condition while the daemon lives, every POLL
# seconds (0.2).
wait_for() {
	deadline=$(($(date +%s) + ${2:-120}))
	until eval "$1"; do
		[ -z "$DPID" ] || kill -0 "$DPID" 2>/dev/null || fail "dmcowd exited: $(tail -20 "$DLOG.run" "$DLOG" 2>/dev/null)"
		[ "$(date +%s)" -lt $deadline ] || fail "not reached in ${2:-120} s: $1; log: $(tail -20 "$DLOG.run")"
		sleep "${3:-0.2}"
	done
}

# all_serving VOLUME...: the daemon's log says each of them is serving (one pass over the log,
# however many volumes).
all_serving() {
	awk -v want="$*" 'BEGIN { left = split(want, w, " "); for (i = 1; i <= left; i++) need["volume " w[i] ":"] = 1 }
		/ serving$/ { v = $3 " " $4; if (v in need) { delete need[v]; left-- } }
		END { exit left > 0 }' "$DLOG.run"
}

# start_daemon VOLUME...: start dmcowd on $DCONF and wait until every named volume is serving
# (read from its log: a JVM start costs many seconds under emulation, dmcowctl one more).
# dmcowd is a background job of the scenario's shell: wait for other jobs by their PIDs, since a
# bare "wait" waits for dmcowd too, that is, for ever.
start_daemon() {
	: >"$DLOG.run"
	# DMCOW_CDS (set by ops/vm/run): dmcowd's class-data sharing archive, made by ops/vm/cds for
	# this build and JVM. -Xshare:on: a refused archive fails the start instead of going unnoticed.
	dmcowd_cds=
	[ -z "${DMCOW_CDS:-}" ] || dmcowd_cds="-XX:SharedArchiveFile=$DMCOW_CDS -Xshare:on"
	DMCOWD_JAVA_OPTS="$DMCOWD_JAVA_OPTS $dmcowd_cds" "$DMCOWD" --config "$DCONF" >"$DLOG.run" 2>&1 &
	DPID=$!
	# SHOW_DAEMON_LOG=1: the daemon's log is shown while it starts (the demo).
	if [ -n "${SHOW_DAEMON_LOG:-}" ]; then
		(tail -n +1 -f "$DLOG.run" & echo $! >/tmp/dmcowd-tail.pid; wait) | grep --line-buffered -v 'dead letters' | sed -u 's/^/     | /' &
	fi
	# once a second: each poll is a few processes, whose CPU the daemon's start would miss
	wait_for "all_serving $*" 900 1
	# SERVING_AT: when the log showed them all serving (before the checks of the nodes)
	SERVING_AT=$(date +%s)
	# no udev here: each node is the daemon's, and must open its volume, not an older device (one
	# dmsetup and one stat for all: a few processes per volume take minutes under emulation)
	dmsetup info -c --noheadings --separator ' ' -o name,major,minor >/tmp/dm-devices.txt
	for v in "$@"; do
		[ -b "/dev/mapper/$v" ] || fail "no /dev/mapper/$v"
	done
	{ [ $# = 0 ] || (cd /dev/mapper && stat -c '%n %Hr:%Lr' "$@"); } >/tmp/dm-nodes.txt
	awk 'NR == FNR { dev[$1] = $2 ":" $3; next }
		dev[$1] != $2 { printf "/dev/mapper/%s is the node of device %s, but %s is %s\n", $1, $2, $1, dev[$1] }' \
		/tmp/dm-devices.txt /tmp/dm-nodes.txt >/tmp/dm-wrong-nodes.txt
	[ ! -s /tmp/dm-wrong-nodes.txt ] || fail "$(cat /tmp/dm-wrong-nodes.txt)"
	if [ -n "${SHOW_DAEMON_LOG:-}" ]; then
		sleep 0.5
		kill "$(cat /tmp/dmcowd-tail.pid)"
	fi
	cat "$DLOG.run" >>"$DLOG"
}

# stop_daemon: SIGTERM, which must commit everything and exit 0.
stop_daemon() {
	kill -TERM "$DPID"
	rc=0
	wait "$DPID" || rc=$?
	cat "$DLOG.run" >>"$DLOG"
	DPID=
	[ $rc = 0 ] || fail "dmcowd exited $rc after SIGTERM: $(tail -20 "$DLOG.run")"
	grep -q "stopped cleanly" "$DLOG.run" || fail "no clean stop in the log: $(tail -20 "$DLOG.run")"
}

# kill_daemon: SIGKILL, no goodbye.
kill_daemon() {
	kill -KILL "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	cat "$DLOG.run" >>"$DLOG"
	DPID=
}

# detach_loops FILE...: detach the loop devices over FILEs. dmcowd's have no autoclear (they must
# outlive the daemon), so a file system holding CoW files unmounts only after this.
detach_loops() {
	for f in "$@"; do
		losetup -j "$f" | cut -d: -f1 | while read -r l; do losetup -d "$l"; done
	done
}

# sum FILE_OR_DEVICE: sha256 of its whole content (direct reads for devices).
sum() {
	if [ -b "$1" ]; then
		dd if="$1" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1
	else
		sha256sum <"$1" | cut -d' ' -f1
	fi
}

# fsck_clean DEV: e2fsck -fn finds nothing.
fsck_clean() {
	e2fsck -fn "$1" >/tmp/fsck.log 2>&1 || fail "e2fsck -fn $1: $(cat /tmp/fsck.log)"
}

# segments VOLUME: lines in its device-mapper table, and how many of them are mapped cow segments
# (committed runs: "cow ... 2 mapped <cow_sector>").
segments() {
	dmsetup table "$1" | awk '{ n++; if ($3 == "cow" && $9 == "mapped") m++ } END { printf "%d segments (%d mapped)", n, m }'
}

# mapped_sectors VOLUME: sectors its table maps by mapped segments. Folding new chunks always
# raises it; the segment count may stay the same when they extend a neighbouring segment.
mapped_sectors() {
	dmsetup table "$1" | awk '$3 == "cow" && $9 == "mapped" { s += $2 } END { print s + 0 }'
}

# format_spaces VOLUME:FORMAT[:SIZE]...: format ${COWDIR:-/tmp}/VOLUME.cow over $BASE, 64k
# chunks, all at once (each dmcowctl is a JVM start, slow under emulation); FORCE=1 overwrites
# existing spaces.
format_spaces() {
	pids=
	for spec in "$@"; do
		name=${spec%%:*}
		rest=${spec#*:}
		fmt=${rest%%:*}
		size=
		[ "$rest" = "$fmt" ] || size=${rest#*:}
		dmcowctl format --base "$BASE" --cow "${COWDIR:-/tmp}/$name.cow" --chunk-size 64k --format "$fmt" \
			${size:+--size "$size"} ${FORCE:+--force} >"/tmp/format-$name.log" 2>&1 &
		pids="$pids $!:$name"
	done
	for p in $pids; do
		wait "${p%%:*}" || fail "dmcowctl format ${p#*:}: $(cat "/tmp/format-${p#*:}.log")"
	done
}
