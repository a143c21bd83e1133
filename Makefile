.PHONY: build test vet ci run

build:
	go build -o bin/rolegate ./cmd/rolegate

test:
	go test ./...

vet:
	go vet ./...

# What CI runs (installs system packages: needs root on Debian).
ci:
	bash .ci/run

run:
	go run ./cmd/rolegate serve
