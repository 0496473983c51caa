# essay-grader: a two-stage build. The first stage compiles the release binary
# (SQLite is bundled by sqlx, the default model and the web page are embedded),
# the second carries only that binary, so the image needs no files beside it.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Cargo.lock is committed and --locked keeps the build to exactly those versions.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY static ./static
COPY models ./models
RUN cargo build --release --locked --bin essay-grader

FROM debian:bookworm-slim
# A non-root user (fixed ids, so that orchestrators and bind mounts can name
# it) owns the data folder, the only place the service writes. The folder is
# created and handed over *before* VOLUME: Docker fills a fresh named volume
# with the image's folder, owner included, so the volume is writable by the
# service from its first start. Created after VOLUME, it would be root's.
RUN groupadd --system --gid 10001 essay-grader \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/essay-grader \
      --create-home essay-grader \
 && mkdir -p /var/lib/essay-grader/data \
 && chown 10001:10001 /var/lib/essay-grader/data \
 && chmod 0750 /var/lib/essay-grader/data
COPY --from=build /src/target/release/essay-grader /usr/local/bin/essay-grader
USER 10001:10001
WORKDIR /var/lib/essay-grader
# Listen on every interface inside the container; publish the port to choose
# who can reach it. The database lives in the volume mounted at ./data.
ENV ESSAY_GRADER_ADDR=0.0.0.0:8080 \
    ESSAY_GRADER_DATABASE=sqlite:///var/lib/essay-grader/data/essay-grader.db
VOLUME ["/var/lib/essay-grader/data"]
EXPOSE 8080
# SIGTERM (docker stop) triggers the graceful shutdown: in-flight requests
# finish and running jobs are requeued.
STOPSIGNAL SIGTERM
# The slim image has no curl: bash's /dev/tcp asks GET /ready directly.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["essay-grader"]
CMD ["serve"]
