# syntax=docker/dockerfile:1
# Multi-stage build of the tandem server. The demo bundle is committed under
# server/demo/dist, so building needs Go only (no npm).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tandem ./cmd/tandem

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tandem /usr/local/bin/tandem
USER nonroot:nonroot
EXPOSE 8080
ENV TANDEM_ADDR=:8080
# distroless has no shell or curl: the binary checks its own /healthz, on the
# port of TANDEM_ADDR, so that the check follows a changed listen address.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/tandem", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tandem"]
