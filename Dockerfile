# glassbox serve: REST API, OTLP/HTTP receiver, dashboard, /metrics, health.
#   docker build -t glassbox .
#   docker run -p 7433:7433 -e GLASSBOX_STORE=postgresql+psycopg://glassbox:glassbox@db:5432/glassbox glassbox
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install '.[postgres]' && useradd --create-home glassbox
USER glassbox
WORKDIR /home/glassbox
EXPOSE 7433
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:7433/health'); sys.exit(0)"
# Listening beyond loopback requires API keys: create one first (see docs/server.md).
CMD ["glassbox", "serve", "--host", "0.0.0.0", "--port", "7433"]
