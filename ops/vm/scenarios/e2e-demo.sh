# The demo: one ext4 base image, three guest volumes over it (two native, one qcow2) served by dmcowd; each volume writes its own files and sees only those, the base never changes, QEMU cannot write the served overlay, and after a clean stop the qcow2 overlay passes qemu-img check and compares equal to the device; a native guest exported as a qcow2 overlay (qemu-img info shows it).
. "$DMCOW_ROOT/ops/vm/lib.sh"
. "$DMCOW_ROOT/ops/vm/suites/e2e-lib.sh"

say() { # plain words for the person watching
	echo "   $*"
}

step "1. Load the dm-cow kernel module"
say "The kernel side of dm-cow is a device-mapper target called 'cow'. It serves reads of"
say "untouched chunks straight from the shared base image, and asks the daemon (dmcowd) where"
say "to put every chunk a guest writes for the first time."
load_dmcow
say "loaded: $(grep -c . /proc/modules) modules, dm-cow among them: $(grep -o '^dm_cow [0-9]*' /proc/modules)"

step "2. Make a golden base image: 256 MiB holding an ext4 filesystem with a few files"
mkdir -p /tmp/golden/etc
echo "I am the golden image, shared read-only by every guest" >/tmp/golden/README
echo "golden-host" >/tmp/golden/etc/hostname
head -c 4194304 /dev/urandom >/tmp/golden/payload.bin
BASE=/tmp/base.img
mkfs.ext4 -q -F -L golden -d /tmp/golden "$BASE" 256M >/dev/null || fail "mkfs.ext4 on the base failed"
base_sum=$(sum "$BASE")
say "base: $BASE, sha256 ${base_sum%"${base_sum#????????????????}"}..."

step "3. Give each of three guests a CoW space over that one base"
say "vm1 and vm2 use dm-cow's native format; vm3 uses QEMU's qcow2 format (a qcow2 file whose"
say "backing file is the base), so QEMU's own tools can read it afterwards."
say "dmcowctl format writes each CoW space's header: chunk size 64 KiB, and the base's size and"
say "identity, so that a space is never served over the wrong base (three at once: JVMs start slowly)."
dmcowctl format --base "$BASE" --cow /tmp/vm1.cow --chunk-size 64k --size 160M >/tmp/f1 2>&1 &
f1=$!
dmcowctl format --base "$BASE" --cow /tmp/vm2.cow --chunk-size 64k --size 160M >/tmp/f2 2>&1 &
f2=$!
dmcowctl format --base "$BASE" --cow /tmp/vm3.cow --chunk-size 64k --format qcow2 >/tmp/f3 2>&1 &
f3=$!
wait $f1 || fail "format vm1: $(cat /tmp/f1)"
wait $f2 || fail "format vm2: $(cat /tmp/f2)"
wait $f3 || fail "format vm3: $(cat /tmp/f3)"
sed 's/^/   /' /tmp/f1 /tmp/f2 /tmp/f3

step "4. Start dmcowd with the three volumes"
write_conf vm1:native vm2:native vm3:qcow2
say "its configuration ($DCONF):"
sed 's/^/     /' "$DCONF"
say "waiting for the daemon to serve all three (a JVM starts slowly under software emulation);"
say "its log as it comes:"
SHOW_DAEMON_LOG=1 start_daemon vm1 vm2 vm3
say "/dev/mapper/vm1, vm2 and vm3 exist. Untouched, each reads exactly as the base:"
for v in vm1 vm2 vm3; do
	[ "$(sum /dev/mapper/$v)" = "$base_sum" ] || fail "$v does not read as the base before any write"
done
say "all three checksums equal the base's."

step "5. Each guest mounts its volume and writes its own files"
for v in vm1 vm2 vm3; do
	mkdir -p /tmp/mnt/$v
	mount /dev/mapper/$v /tmp/mnt/$v || fail "mount $v"
	echo "written by $v" >/tmp/mnt/$v/hello-$v.txt
	head -c 8388608 /dev/urandom >/tmp/mnt/$v/data-$v.bin
	echo "$v" >/tmp/mnt/$v/etc/hostname
done
sync
say "each write to a chunk the volume had not written before went: kernel -> fault to dmcowd ->"
say "dmcowd picks a chunk in that volume's CoW space -> kernel copies the rest of the chunk from"
say "the base and writes there -> dmcowd commits the mapping durably -> a table reload turns"
say "committed chunks into 'mapped' cow segments, served like dm-linear."

step "6. dmcowctl status: what the daemon is doing"
dmcowctl status || fail "dmcowctl status failed"
say "dmcowd holds QEMU's image locks on what it serves: QEMU's tools cannot write vm3's overlay (or"
say "the base) meanwhile, and read it only with -U (force share):"
if qemu-io -c "write 0 4k" /tmp/vm3.cow >/tmp/qio 2>&1; then fail "qemu-io wrote a served overlay"; fi
grep -q 'Failed to get "write" lock' /tmp/qio || fail "qemu-io failed otherwise: $(cat /tmp/qio)"
say "  $(head -n 1 /tmp/qio)"
qemu-img info -U /tmp/vm3.cow | head -n 3 | sed 's/^/     /'

step "7. Each volume sees the base's files plus only its own"
for v in vm1 vm2 vm3; do
	files=$(cd /tmp/mnt/$v && ls | grep -v lost+found | tr '\n' ' ')
	say "$v: $files; hostname: $(cat /tmp/mnt/$v/etc/hostname)"
	[ "$(cat /tmp/mnt/$v/README)" = "I am the golden image, shared read-only by every guest" ] ||
		fail "$v lost the base's README"
	cmp -s /tmp/mnt/$v/payload.bin /tmp/golden/payload.bin || fail "$v reads the base's payload.bin wrongly"
	[ "$(cat /tmp/mnt/$v/etc/hostname)" = "$v" ] || fail "$v does not see its own hostname"
	for o in vm1 vm2 vm3; do
		[ $o = $v ] && continue
		[ ! -e /tmp/mnt/$v/hello-$o.txt ] || fail "$v sees $o's file"
	done
	(cd /tmp/mnt/$v && sha256sum hello-$v.txt data-$v.bin) >/tmp/$v.files.sum
	umount /tmp/mnt/$v
	fsck_clean /dev/mapper/$v
done
say "and e2fsck -fn finds each filesystem clean."

step "8. The base image is unchanged"
now_sum=$(sum "$BASE")
say "before: $base_sum"
say "after:  $now_sum"
[ "$now_sum" = "$base_sum" ] || fail "the base image changed"
# The daemon's read-only loop device holds the base exclusively: read it with debugfs, no mount.
base_files=$(debugfs -R 'ls -p /' "$BASE" 2>/dev/null | awk -F/ '$6 != "" && $6 != "." && $6 != ".." && $6 != "lost+found" { print $6 }' | tr '\n' ' ')
base_hostname=$(debugfs -R 'cat /etc/hostname' "$BASE" 2>/dev/null)
say "the base still holds: ${base_files}hostname $base_hostname"
[ "$base_hostname" = golden-host ] || fail "the base's hostname changed: $base_hostname"

step "9. Stop the daemon cleanly (SIGTERM): it commits everything; the devices keep serving"
stop_daemon
for v in vm1 vm2 vm3; do
	mount -o ro /dev/mapper/$v /tmp/mnt/$v || fail "mount $v after the stop"
	(cd /tmp/mnt/$v && sha256sum -c --quiet /tmp/$v.files.sum) || fail "$v's files changed after the stop"
	umount /tmp/mnt/$v
done
say "every volume still mounts and its files read back."
say "the tables, now mostly mapped: vm1 $(segments vm1); vm2 $(segments vm2); vm3 $(segments vm3)"

step "10. QEMU's tools agree with the qcow2 overlay vm3"
qemu-img check /tmp/vm3.cow || fail "qemu-img check on the qcow2 overlay is not clean (exit $?)"
qemu-img compare -f qcow2 -F raw /tmp/vm3.cow /dev/mapper/vm3 || fail "qemu-img compare: the overlay differs from /dev/mapper/vm3"
say "qemu-img reads the same bytes through the qcow2 file as the guest saw on /dev/mapper/vm3."

step "11. dm-cow's own checker on the native CoW spaces"
dmcowctl check /tmp/vm1.cow --base "$BASE" >/tmp/c1 2>&1 &
c1=$!
dmcowctl check /tmp/vm2.cow --base "$BASE" >/tmp/c2 2>&1 || fail "dmcowctl check vm2: $(cat /tmp/c2)"
wait $c1 || fail "dmcowctl check vm1: $(cat /tmp/c1)"
sed 's/^/   /' /tmp/c1 /tmp/c2
for v in vm1 vm2 vm3; do
	dmsetup remove $v || fail "dmsetup remove $v"
done

step "12. Taking a guest's data out: vm1 exported as a qcow2 overlay of the base"
say "With its volume removed, vm1's CoW space is offline; dmcowctl export writes the guest's"
say "changes alone as a qcow2 file whose backing file is the base: QEMU boots it and reads it."
dmcowctl export /tmp/vm1.cow --base "$BASE" -o /tmp/vm1-export.qcow2 || fail "dmcowctl export vm1"
qemu-img info /tmp/vm1-export.qcow2 | sed 's/^/     /'
qemu-img check -q /tmp/vm1-export.qcow2 || fail "qemu-img check on the export (exit $?)"
say "qemu-img check finds it clean (dmcowctl flatten would make a new golden image instead)."
step "demo complete: three guests, one untouched base, every check passed"
