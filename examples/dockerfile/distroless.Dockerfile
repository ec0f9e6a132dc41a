# syntax=docker/dockerfile:1
FROM golang:1.23@sha256:9b6c3f2b7c1a3c5e8d4f0a1b2c3d4e5f60718293a4b5c6d7e8f90123456789ab AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM gcr.io/distroless/static-debian12:nonroot@sha256:6ec5aa99dc335666e79dc64e4a6c8b89c33a543a1967f20d360922a80dd21f02
COPY --from=build /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
