# Lab self-test: a scenario that never ends. The guest runner's per-scenario limit must kill it.
echo "selftest: hanging on purpose"
sleep 600
