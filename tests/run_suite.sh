#!/usr/bin/env bash
# The whole suite on two cores, in about two thirds of the time one pytest run takes.
#
# The Ansible deployment test (tests/integration/test_ansible.py, about three minutes) keeps one
# core busy with ansible's per-task processes and the other mostly idle, so the unit tests (about
# two minutes of one core, no services) run beside it. Every other integration test runs after
# both, alone: those time real services against each other and should not share the machine.
# Each lane's output is printed whole, in turn; the exit status is the first failing lane's.
#
#     bash tests/run_suite.sh [.venv/bin]
set -uo pipefail

bin=${1:-.venv/bin}
pytest=("$bin/pytest" -q -p no:cacheprovider)
ansible_test=tests/integration/test_ansible.py
unit_log=$(mktemp)
trap 'rm -f "$unit_log"' EXIT

echo "== unit tests (beside the Ansible test; their output follows it)"
"${pytest[@]}" --durations=10 tests/unit >"$unit_log" 2>&1 &
unit_pid=$!

echo "== $ansible_test"
"${pytest[@]}" --durations=5 "$ansible_test"
ansible_status=$?

wait "$unit_pid"
unit_status=$?
echo "== unit tests"
cat "$unit_log"

echo "== integration tests"
"${pytest[@]}" --durations=25 --ignore "$ansible_test" tests/integration
integration_status=$?

for status in "$unit_status" "$ansible_status" "$integration_status"; do
    if [ "$status" -ne 0 ]; then
        exit "$status"
    fi
done
