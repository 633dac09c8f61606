# ecs-deploy in an otherwise empty image. Build the static binary first
# (`make musl`); `make image` does both. The binary carries its TLS roots
# (Mozilla's, via webpki-roots), so the image needs no CA store, libc or shell.
FROM scratch
COPY target/x86_64-unknown-linux-musl/release/ecs-deploy /ecs-deploy
ENTRYPOINT ["/ecs-deploy"]
