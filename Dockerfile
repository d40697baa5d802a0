# syntax=docker/dockerfile:1
# Croupier's image: the one binary on a distroless base, non-root, no shell.
#
#   docker build -t croupier .
#   docker run -p 8080:8080 -v croupier-data:/data croupier
#
# Build arguments:
#   RUST_IMAGE  the toolchain image the binary is compiled in
#   BASE        the runtime base. distroless `cc` (not Debian slim): glibc,
#               libgcc, CA certificates and tzdata are all the binary needs,
#               and no shell or package manager is there to exploit — about
#               a tenth of slim's size. Same Debian release as RUST_IMAGE, so
#               the glibc the binary links against is the one it runs on.
#   BINARY      `source` (default) compiles here; `prebuilt` takes `croupier`
#               from the root of the build context instead (what CI does on a
#               machine without a registry, see .ci/image/run).
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG BASE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARY=source

# cargo-chef: the dependencies are compiled in a layer of their own, keyed on
# the lockfile, so a change to Croupier's sources rebuilds only Croupier.
FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS source
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --profile dist --locked --recipe-path recipe.json
COPY . .
# The `dist` profile: release code, no debug info, symbols stripped.
RUN cargo build --profile dist --locked --bin croupier \
    && mkdir -p /out/data \
    && cp target/dist/croupier /out/croupier

FROM scratch AS prebuilt
# WORKDIR makes the (empty) data directory, as mkdir does in `source`.
WORKDIR /out/data
COPY croupier /out/croupier

FROM ${BINARY} AS binary

FROM ${BASE}
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="croupier" \
      org.opencontainers.image.description="A provably fair gaming platform backend: one binary, roles chosen at start." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/croupier-platform/croupier" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=binary /out/croupier /usr/local/bin/croupier
# The embedded database's directory, writable by the numeric non-root user
# (numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd).
COPY --from=binary --chown=65532:65532 /out/data /data
ENV CROUPIER_LISTEN=0.0.0.0:8080 \
    CROUPIER_METRICS_LISTEN=0.0.0.0:9464 \
    CROUPIER_DATA_DIR=/data
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
# The HTTP API (and the web clients), and Prometheus' /metrics.
EXPOSE 8080 9464
# The binary drains on SIGTERM (shutdown_drain_secs, shutdown_grace_secs) and
# starts no children, so as PID 1 it needs no init such as tini.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/croupier", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/croupier"]
CMD ["serve"]
