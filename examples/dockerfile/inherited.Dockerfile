FROM debian:12-slim AS base
RUN useradd --uid 10001 app
USER app

FROM base
COPY app /app
