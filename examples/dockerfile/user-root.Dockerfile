FROM debian:12-slim
RUN useradd --uid 10001 app
USER app
COPY app /usr/local/bin/app
USER root
ENTRYPOINT ["/usr/local/bin/app"]
