module github.com/cachestack/cachestack/examples/fleet

go 1.25.0

require (
	github.com/cachestack/cachestack v0.0.0
	github.com/cachestack/cachestack/store/redisstore v0.0.0
	github.com/redis/go-redis/v9 v9.17.3
	github.com/stretchr/testify v1.11.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/fxamacker/cbor/v2 v2.9.6 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/cachestack/cachestack => ../../

replace github.com/cachestack/cachestack/store/redisstore => ../../store/redisstore
