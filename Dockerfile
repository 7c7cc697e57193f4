# The packaged binary on Debian slim, as a non-root user with its data in /data.
#   scripts/package && docker build --build-arg ARCHIVE=dist/switchboard-<version>-linux-x86_64.tar.gz -t switchboard .
#   docker run -p 8080:8080 -v switchboard-data:/data -e SWITCHBOARD_ADMIN_TOKEN=… switchboard
FROM debian:bookworm-slim
ARG ARCHIVE
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /data --shell /usr/sbin/nologin switchboard \
    && mkdir -p /data && chown switchboard:switchboard /data && chmod 700 /data
ADD ${ARCHIVE} /opt/
RUN mv /opt/switchboard-*/switchboard /usr/local/bin/switchboard && rm -rf /opt/switchboard-*
USER switchboard
WORKDIR /data
VOLUME ["/data"]
ENV SWITCHBOARD_LISTEN=0.0.0.0:8080 \
    SWITCHBOARD_DATABASE=sqlite:/data/switchboard.db
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve"]
