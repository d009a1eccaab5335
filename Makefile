# make test runs every check CI runs, for every Go module in the repository.
.PHONY: test bench fmt fault load fuzz fleet

test:
	bash scripts/test.sh

# Every benchmark of the bench module, six times (about 20 minutes; see
# bench/README.md), printed on stdout. Nothing is written to the working tree
# unless asked: make bench BENCH_OUT=/tmp/new.txt also keeps the output there,
# for benchstat.
bench:
	cd bench && go test -run '^$$' -bench . -benchmem -count 6 ./...$(if $(BENCH_OUT), | tee $(abspath $(BENCH_OUT)))

fmt:
	gofmt -w $$(git ls-files '*.go')

# The fault tests at full length: each fault under 20s of load from 50
# goroutines, printing its figures (make test runs them for a second).
fault:
	go test -race -count=1 -timeout 30m -v -run 'TestFaults$$|TestFaultPanicsInAChildProcess|TestCloseReturnsWithAStoreThatNeverAnswers' . -fault.duration=20s
	cd store/redisstore && go test -race -count=1 -timeout 30m -v -run 'TestRedisFaults' . -fault.duration=20s

# Many machines at full length: 30s of load on a Redis Cluster of the
# test's own while a primary is killed (with scripts/services.sh's 5s node
# timeout), and two processes sharing one Redis through coherent memory
# fronts for 20s (make test runs each for a few seconds).
fleet:
	cd store/redisstore && go test -race -count=1 -timeout 30m -v -run 'TestClusterFailover$$|TestCoherentFrontsAcrossProcesses$$' . -failover.duration=30s -failover.node-timeout=5000 -coherent.duration=20s

# The load test at full size: 10,000 requests over 200 goroutines.
load:
	go test -race -count=1 -timeout 30m -v -run 'TestLoad$$' . -load

# Every fuzz target of the repository for FUZZTIME each (default 30s).
fuzz:
	bash scripts/fuzz.sh
