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
	# Packages of this module (not of modules nested in it) with targets.
	for file in $(cd "$mod" && grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
		dir=$(dirname "$file")
		if [ "$dir" != . ] && [ -n "$(cd "$mod" && find "$dir" -maxdepth 6 -name go.mod -path "$dir/*" -print -quit)" ]; then
			case "$(cd "$mod/$dir" && go list -m 2>/dev/null)" in
			"$(cd "$mod" && go list -m)") ;;
			*) continue ;;
			esac
		fi
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$mod/$file" | sed 's/^func //'); do
			echo "== fuzz $mod/$dir $target ($fuzztime)"
			(cd "$mod" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./$dir") || status=1
		done
	done
done
exit $status
