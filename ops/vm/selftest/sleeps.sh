# Harness self-test: a scenario that never ends; the run must stop it and report a timeout.
sleep 100000
