# switchboard's image: built with the Rust toolchain, run on Debian slim. librdkafka is
# bundled (compiled in by rdkafka-sys), so the runtime needs no Kafka library.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin switchboard

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/switchboard /usr/local/bin/switchboard
ENV SWITCHBOARD_HTTP_ADDR=0.0.0.0:8080 SWITCHBOARD_DATA_DIR=/var/lib/switchboard
EXPOSE 8080
ENTRYPOINT ["switchboard"]
CMD ["serve"]
