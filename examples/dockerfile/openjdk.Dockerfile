FROM openjdk:8-jdk-alpine
VOLUME /tmp
ARG DEPENDENCY=target/dependency
COPY ${DEPENDENCY}/BOOT-INF/lib /app/lib
RUN apk add --no-cache python3 && apt-get upgrade
USER 1000
ENTRYPOINT ["java","-cp","app:app/lib/*","hello.Application"]
