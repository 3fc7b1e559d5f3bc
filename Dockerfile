# clavebridge container image: a static binary on distroless, as a non-root
# user, with nothing to write (it runs with a read-only root filesystem).
#
#   docker build -t clavebridge \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" .
#   docker run --read-only --cap-drop=ALL --security-opt=no-new-privileges \
#     -p 8080:8080 -v /etc/clavebridge:/etc/clavebridge:ro clavebridge
#
# The configuration is read from /etc/clavebridge/config.yaml (mount it,
# with the keys, secrets and SP metadata it names, read-only); it must
# listen on 0.0.0.0:8080 (server.listen) to be reachable from outside the
# container. docs/operations.md ("Packaging") has the details.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/clavebridge ./cmd/clavebridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/clavebridge /usr/local/bin/clavebridge
USER 65532:65532
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/clavebridge"]
CMD ["serve", "-c", "/etc/clavebridge/config.yaml"]
