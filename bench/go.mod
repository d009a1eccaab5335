module github.com/cachestack/cachestack/bench

go 1.25.0

require (
	github.com/cachestack/cachestack v0.0.0
	github.com/cachestack/cachestack/store/redisstore v0.0.0
	github.com/gohugoio/httpcache v0.7.0
	github.com/gregjones/httpcache v0.0.0-20190611155906-901d90724c79
	github.com/redis/go-redis/v9 v9.17.3
	github.com/stretchr/testify v1.11.1
)

require (
	github.com/allegro/bigcache/v3 v3.1.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/dgraph-io/ristretto/v2 v2.4.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/dustin/go-humanize v1.0.1 // indirect
	github.com/fxamacker/cbor/v2 v2.9.6 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/maypok86/otter/v2 v2.3.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sys v0.47.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/cachestack/cachestack => ../

replace github.com/cachestack/cachestack/store/redisstore => ../store/redisstore
