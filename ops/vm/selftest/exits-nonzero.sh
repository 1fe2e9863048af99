# Harness self-test: a scenario that fails; the run must fail with its status.
echo "failing on purpose"
exit 7
