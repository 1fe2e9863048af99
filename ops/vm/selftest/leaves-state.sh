# Harness self-test for ops/vm/in-one-boot.sh: leaves a file, a loop device, a process and a kernel
# log line behind; finds-fresh-state.sh, run after it in the same boot, must see none of them.
truncate -s 1M /tmp/leftover
losetup -f /tmp/leftover
sleep 1000 &
echo "dmcow-selftest: left behind" >/dev/kmsg
