module github.com/reprieve/reprieve

go 1.26.8

require (
	github.com/beanstalkd/go-beanstalk v0.2.0
	github.com/goccy/go-yaml v1.19.2
)
