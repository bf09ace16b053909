# syntax=docker/dockerfile:1
# A small runtime image holding pymsboot-api, pymsboot-engine and
# pymsboot-manage. One image runs any of them:
#
#   docker build -t pymsboot .
#   docker run --rm pymsboot manage config generate
#   docker run -d -v /etc/pymsboot:/etc/pymsboot:ro pymsboot engine
#   docker run -d -v /etc/pymsboot:/etc/pymsboot:ro -p 9666:9666 pymsboot api
#
# The first argument names the program (api, engine or manage); the rest are
# passed to it after --config-file /etc/pymsboot/pymsboot.conf. The image
# ships the sample configuration there, whose defaults expect RabbitMQ and the
# database on the container's own loopback: mount your own file over it.
# compose/pymsboot.yml runs the whole system.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and build artifacts between builds;
# the binaries are copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && install -D -m 0755 -t /out \
        target/release/pymsboot-api \
        target/release/pymsboot-engine \
        target/release/pymsboot-manage

FROM debian:bookworm-slim
# ca-certificates: the engine checks the certificates of https downloads
# against the system's roots.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system pymsboot \
    && useradd --system --gid pymsboot --home-dir /var/lib/pymsboot \
        --no-create-home --shell /usr/sbin/nologin pymsboot \
    && install -d -o pymsboot -g pymsboot -m 0750 /var/lib/pymsboot /var/lib/pymsboot/movies \
    && install -d -m 0755 /etc/pymsboot
COPY --from=builder /out/ /usr/local/bin/
COPY conf/pymsboot.conf.sample /etc/pymsboot/pymsboot.conf

USER pymsboot
WORKDIR /var/lib/pymsboot
VOLUME ["/var/lib/pymsboot"]
EXPOSE 9666
# SIGTERM is the services' graceful stop; give it more than
# graceful_shutdown_timeout (`docker stop -t 75`, stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "-c", "exec /usr/local/bin/pymsboot-\"$0\" --config-file /etc/pymsboot/pymsboot.conf \"$@\""]
CMD ["api"]
