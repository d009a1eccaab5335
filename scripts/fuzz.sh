#!/usr/bin/env bash
# Runs every fuzz target of every Go module in the repository for a fixed
# budget each (FUZZTIME, default 30s). Inputs that fail are written by go
# test under the package's testdata/fuzz/<Target>/: commit them, so that
# the failure stays a regression test that plain `go test` runs. Used by
# `make fuzz`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
status=0
for mod in $(find . -name go.mod -not -path '*/testdata/*' -not -path '*/node_modules/*' -printf '%h\n' | sort); do
	# go list names this module's packages only, not those of modules
	# nested in it.
	for dir in $(cd "$mod" && go list -f '{{.Dir}}' ./...); do
		for target in $(cat "$dir"/*_test.go 2>/dev/null | grep -o '^func Fuzz[A-Za-z0-9_]*' | sed 's/^func //'); do
			echo "== fuzz ${dir#$PWD/} $target ($fuzztime)"
			(cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" .) || status=1
		done
	done
done
exit $status
