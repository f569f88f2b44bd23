# The ledger's image: the package and its dependencies, nothing else (.dockerignore keeps
# keys, databases and local state out). Keys come from the ledger-keys volume at run time.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Pango for WeasyPrint (the review pack as PDF)
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY infra infra
COPY projections projections
COPY services services
# the volumes' mount points, owned by the user the services run as (a new named volume
# takes the ownership of its mount point in the image)
RUN pip install --no-cache-dir . && useradd --uid 10001 --no-create-home ledger \
    && mkdir -p /run/ledger-keys /var/lib/ledger \
    && chown 10001 /run/ledger-keys /var/lib/ledger && chmod 700 /run/ledger-keys
USER 10001
ENTRYPOINT ["ledger"]
