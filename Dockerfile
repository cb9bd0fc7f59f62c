# The one image of every service in docker-compose.yml: web (gunicorn) and worker.
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
RUN useradd --system --home /app postpurchase && mkdir -p /app/instance && chown postpurchase /app/instance
USER postpurchase
EXPOSE 8000
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
