# make test runs every check CI runs, for every Go module in the repository.
.PHONY: test bench fmt

test:
	bash scripts/test.sh

# Benchmarks of the hit path and store choices; see bench/README.md.
bench:
	cd bench && go test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt

fmt:
	gofmt -w $$(git ls-files '*.go')
