module github.com/cachestack/cachestack/inspect/browsertest

go 1.25.0

require (
	github.com/cachestack/cachestack v0.0.0
	github.com/chromedp/chromedp v0.23.1
	github.com/stretchr/testify v1.11.1
)

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/fxamacker/cbor/v2 v2.9.6 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/cachestack/cachestack => ../../
