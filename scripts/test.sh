#!/usr/bin/env bash
# Runs gofmt, go vet and the race-enabled tests of every module in the
# repository. Used by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh || true # starts the test servers it can; never fails

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

status=0
for mod in $(find . -name go.mod -not -path '*/testdata/*' -not -path '*/node_modules/*' -printf '%h\n' | sort); do
	echo "== module $mod"
	(cd "$mod" && go vet ./... && go test -race -count=1 -timeout 20m ./...) || status=1
done
exit $status
