#!/usr/bin/env bash
# Runs gofmt, go vet and the race-enabled tests of every module in the
# repository, then its allocation tests without the race detector. Used by
# `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
# Starts the test servers it can, and exports where they are (and where the
# tests find the server binaries they start themselves); never fails.
set +eu
. scripts/services.sh
set -eu

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

status=0
# scripts/ferretdb is a server that services.sh builds, not the project's code.
for mod in $(find . -name go.mod -not -path '*/testdata/*' -not -path '*/node_modules/*' -not -path './scripts/*' -printf '%h\n' | sort); do
	echo "== module $mod"
	(cd "$mod" && go vet ./... && go test -race -count=1 -timeout 20m ./...) || status=1
	# Allocation tests skip themselves under the race detector, whose
	# sync.Pool drops items at random; run them again without it. Their
	# names end in Allocs, Allocate or Budgets.
	(cd "$mod" && go test -count=1 -run 'Allocs$|Allocate$|Budgets$' ./...) || status=1
done
exit $status
