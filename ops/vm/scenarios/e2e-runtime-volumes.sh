# Runtime volumes through dmcowctl while volume a is written (no write error): add b (native) and c (qcow2) serve within --wait, their NAME.conf in dmcow.volumes-dir; list names every volume and its source; an add on b's CoW space is refused naming b (exit 3); remove of a (config file) is refused (exit 3); remove of mounted b is refused naming the holder (exit 4) and b keeps serving; after umount remove works and b.conf is gone; a restarted daemon serves exactly a and the volumes in volumes.d; dmcowctl reload reports an added volume (exit 0) and a refused one with its cause (exit 3).
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"
load_dmcow

BASE=/tmp/base.img
VDIR=/tmp/volumes.d
head -c 67108864 /dev/urandom >"$BASE"
rm -rf "$VDIR" /tmp/writer-failed /tmp/stop-writer
format_spaces a:native b:native c:qcow2
write_conf a:native
echo "dmcow.volumes-dir = \"$VDIR\"" >>"$DCONF"
start_daemon a

step "volume a written all along"
(
	i=0
	while [ ! -e /tmp/stop-writer ]; do
		dd if=/dev/urandom of=/dev/mapper/a bs=64k count=16 seek=$((i % 512)) oflag=direct conv=notrunc status=none ||
			{ echo "dd at $i" >/tmp/writer-failed; exit 1; }
		i=$((i + 16))
	done
) &
WRITER=$!

step "add b and c with --wait"
out=$(dmcowctl add b --base "$BASE" --cow /tmp/b.cow --wait=300) || fail "add b: $out"
[ -b /dev/mapper/b ] || fail "no /dev/mapper/b after add --wait: $out"
[ -f "$VDIR/b.conf" ] || fail "no $VDIR/b.conf"
out=$(dmcowctl add c --base "$BASE" --cow /tmp/c.cow --format qcow2 --wait=300 --json) || fail "add c: $out"
echo "$out" | grep -q '"outcome":"added"' || fail "add c --json: $out"
[ -b /dev/mapper/c ] || fail "no /dev/mapper/c"
list=$(dmcowctl list)
step "list: $list"
echo "$list" | grep -q "^a  *serving  *config" || fail "list does not show a from the config: $list"
echo "$list" | grep -q "^b  *serving  *$VDIR/b.conf" || fail "list does not show b: $list"

step "refusals name their cause"
rc=0; out=$(dmcowctl add d --base "$BASE" --cow /tmp/b.cow 2>&1) || rc=$?
[ $rc = 3 ] || fail "add on b's CoW space exits $rc, not 3: $out"
echo "$out" | grep -q "also the CoW space of volume b" || fail "the refusal does not name b: $out"
[ ! -e "$VDIR/d.conf" ] || fail "a refused add left $VDIR/d.conf"
rc=0; out=$(dmcowctl remove a 2>&1) || rc=$?
[ $rc = 3 ] || fail "remove of the config file's a exits $rc, not 3: $out"
echo "$out" | grep -q "defined in the config file" || fail "remove a: $out"

step "remove of mounted b is refused naming the holder"
mkfs.ext4 -q -F /dev/mapper/b || fail "mkfs b"
mount /dev/mapper/b /tmp/mnt || fail "mount b"
rc=0; out=$(dmcowctl remove b 2>&1) || rc=$?
[ $rc = 4 ] || fail "remove of mounted b exits $rc, not 4: $out"
echo "$out" | grep -q "open" || fail "the refusal does not name the holder: $out"
step "$out"
[ -f "$VDIR/b.conf" ] || fail "b.conf deleted although b was not removed"
head -c 1048576 /dev/urandom >/tmp/mnt/g && sync || fail "b stopped serving after the refused remove"
umount /tmp/mnt
out=$(dmcowctl remove b) || fail "remove of unmounted b: $out"
[ ! -e /dev/mapper/b ] || fail "/dev/mapper/b still there: $out"
[ ! -e "$VDIR/b.conf" ] || fail "$VDIR/b.conf still there"

touch /tmp/stop-writer
wait "$WRITER" || true
[ ! -e /tmp/writer-failed ] || fail "a write to a failed during add/remove: $(cat /tmp/writer-failed)"
step "a was written without an error throughout"
stop_daemon

step "a restart serves exactly a and volumes.d's c"
start_daemon a c
list=$(dmcowctl list --json)
names=$(echo "$list" | grep -o '"name":"[^"]*"' | tr '\n' ' ')
[ "$names" = '"name":"a" "name":"c" ' ] || fail "after the restart: $names"

step "dmcowctl reload reports the outcome"
cp /dev/null "$VDIR/.b.conf.tmp"
printf 'base = "%s"\ncow = "/tmp/b.cow"\n' "$BASE" >"$VDIR/b.conf"
out=$(dmcowctl reload) || fail "reload with b added: $out"
echo "$out" | grep -q "^added: b$" || fail "reload does not report b: $out"
wait_for '[ -b /dev/mapper/b ]'
printf 'base = "%s"\ncow = "relative.cow"\n' "$BASE" >"$VDIR/e.conf"
rc=0; out=$(dmcowctl reload 2>&1) || rc=$?
[ $rc = 3 ] || fail "reload with a bad e exits $rc, not 3: $out"
echo "$out" | grep -q "volume e: cow must be an absolute path" || fail "reload does not say why e is refused: $out"
step "$out"
rm "$VDIR/e.conf" "$VDIR/.b.conf.tmp"
stop_daemon
step "runtime volumes behave"
