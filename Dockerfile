# The connector (IT Centre or a province, chosen by CONNECTOR_SCOPE), as a daemon.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY config ./config
RUN pip install --no-cache-dir . && useradd --uid 10001 --create-home connector \
    && mkdir -p /var/lib/connector && chown connector /var/lib/connector
USER connector
WORKDIR /var/lib/connector
ENV CONNECTOR_AUDIT__PATH=/var/lib/connector/audit.jsonl \
    CONNECTOR_STATE__DIR=/var/lib/connector/state
ENTRYPOINT ["connector"]
CMD ["daemon"]
