# Lab self-test: a scenario that fails. The host must report it as a failure, never a pass.
. /lab/repo/lab/guest/lib.sh
echo "selftest: failing on purpose"
result '{"note":"wrote a result, then failed"}'
exit 3
