# REPRODUCES AN OPEN BUG (not run by ops/test): a manual table reload (dmsetup load of the live table, suspend, resume) while dmcowd serves; after stop, remove and a rebuild from the CoW spaces, volume a's (native) files had other contents. Run: ops/vm/run --timeout 1500 ops/vm/repro/manual-reload.sh
exec sh -eu "$DMCOW_ROOT/ops/vm/scenarios/e2e-two-volumes.sh" manual-reload
