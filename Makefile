.PHONY: build test vet vulncheck ci run

# The patched toolchain (go.mod's toolchain line), even where the environment says GOTOOLCHAIN=local.
export GOTOOLCHAIN := go1.27.3

build:
	go build -o bin/rolegate ./cmd/rolegate

test:
	go test ./...

vet:
	go vet ./...

# Reachable vulnerabilities, against a database built from the pinned golang.org/x/vulndb module.
vulncheck:
	bash .ci/govulncheck

# What CI runs (installs system packages: needs root on Debian).
ci:
	bash .ci/run

run:
	go run ./cmd/rolegate serve
