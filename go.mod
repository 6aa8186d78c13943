module github.com/danmakud/danmakud

go 1.25

require (
	github.com/andybalholm/brotli v1.2.8
	github.com/spf13/cobra v1.10.2
	github.com/valyala/fastjson v1.6.10
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
