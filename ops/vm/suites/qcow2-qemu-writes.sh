# sh qcow2-qemu-writes.sh BASE OVERLAY (not executable: not a suite): makes OVERLAY (64k clusters) over the raw BASE with qemu-img and
# writes it with qemu-io: data at 1M, 8k into the cluster at 2M (QEMU copies the rest from the
# base), plain zero clusters at 4M-4M+128k, an allocated zero cluster at 6M (data then write -z),
# a 4k zero write into the unallocated cluster at 8M. Used by the VM scenario and the host suite.
set -eu
qemu-img create -q -f qcow2 -o cluster_size=65536 -b "$1" -F raw "$2"
qemu-io -f qcow2 -c "write -q -P 0xab 1M 64k" -c "write -q -P 0xcd 2052k 8k" -c "write -q -z 4M 128k" \
	-c "write -q -P 0xef 6M 64k" -c "write -q -z 6M 64k" -c "write -q -z 8196k 4k" "$2" >/dev/null
