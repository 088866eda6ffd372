# A static, non-root Reprieve image.
#
#   docker build -t reprieve .
#   docker run -p 11300:11300 -v reprieve-data:/data reprieve
#
# The job port listens on every interface of the container; add
# --tls-cert/--tls-key for traffic beyond a private network. The admin
# interface is off: add --admin-listen 0.0.0.0:8080 with
# --admin-token-file (a mounted secret) to serve it.
#
# The build stage runs exactly the command of scripts/release (checked by
# TestDockerfileBuildsStaticBinary); the image holds the binary alone.
FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/reprieve ./cmd/reprieve
RUN mkdir /out/data

FROM scratch
COPY --from=build /out/reprieve /reprieve
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 11300
ENTRYPOINT ["/reprieve"]
CMD ["serve", "--listen", "0.0.0.0:11300", "--data", "/data", "--log-format", "json"]
