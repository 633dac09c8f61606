# ecs-deploy in an otherwise empty image, for amd64 and arm64. `make image`
# stages the static binaries as target/image/<TARGETARCH>/ecs-deploy (from
# `make musl` and `make musl-arm64`); buildx picks the one of each platform:
#   docker buildx build --platform linux/amd64,linux/arm64 -t ecs-deploy .
# The binary carries its TLS roots (Mozilla's, via webpki-roots), so the
# image needs no CA store, libc or shell.
FROM scratch
ARG TARGETARCH=amd64
COPY target/image/${TARGETARCH}/ecs-deploy /ecs-deploy
ENTRYPOINT ["/ecs-deploy"]
