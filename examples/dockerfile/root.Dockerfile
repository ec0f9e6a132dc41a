# The final stage never switches away from root (WASM001 reports line 5).
FROM golang:1.22 AS build
RUN go build -o /app ./...

FROM debian:12-slim
COPY --from=build /app /usr/local/bin/app
ENTRYPOINT ["/usr/local/bin/app"]
