# syntax=docker/dockerfile:1
# Rolegate: one static binary on distroless. Build: docker build -t rolegate .

# The exact patched release: the same as the toolchain line in go.mod (.ci/run checks they agree).
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /rolegate ./cmd/rolegate
# distroless has no shell: make the data folder here, hand it to nonroot (65532) below.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /rolegate /rolegate
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV ROLEGATE_DATA_DIR=/data
# The embedded store and the key-encryption key file (unless ROLEGATE_KEK is set) live here.
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/rolegate"]
CMD ["serve", "--addr", ":8080"]
