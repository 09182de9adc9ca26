# One image for every secchain service; docker-compose.yml picks the command per service.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/secchain
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY rules ./rules
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/secchain secchain \
 && mkdir -p /var/lib/secchain && chown secchain /var/lib/secchain
USER secchain
WORKDIR /var/lib/secchain
ENV PYTHONUNBUFFERED=1
