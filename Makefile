.PHONY: build test vet vulncheck ci run

# The patched toolchain (go.mod's toolchain line), even where the environment says GOTOOLCHAIN=local.
export GOTOOLCHAIN := go1.27.3

build:
	go build -o bin/rolegate ./cmd/rolegate

# go test ./..., plus one line per missing tool whose tests were skipped (plain go test hides them).
test:
	go run ./internal/testtools/testreport ./...

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
