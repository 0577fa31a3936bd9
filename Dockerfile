# The connector (IT Centre or a province, chosen by CONNECTOR_SCOPE), as a daemon.
# Builds offline: Debian's python3 from Debian's mirror, the connector and its
# dependencies from wheels built on the host (bash config/compose/build-wheels.sh).
FROM debian:bookworm-slim
# The first three steps are the OpenLDAP image's render stage too: one build cache.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY config/compose/wheels /wheels
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --find-links /wheels --no-cache-dir \
       bhxh-ldap-connector
RUN useradd --uid 10001 --create-home connector \
    && mkdir -p /var/lib/connector && chown connector /var/lib/connector
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CONNECTOR_AUDIT__PATH=/var/lib/connector/audit.jsonl \
    CONNECTOR_STATE__DIR=/var/lib/connector/state
USER connector
WORKDIR /var/lib/connector
STOPSIGNAL SIGTERM
ENTRYPOINT ["connector"]
CMD ["daemon"]
