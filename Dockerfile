# Image for docker-compose.yml: web (gunicorn), worker and beat share it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_VAR_DIR=/app/var \
    UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
WORKDIR /app
# WeasyPrint's libraries and the one font family every PDF uses.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml uv.lock ./
# The locked versions, without the development extra (no embedded servers, test or bench tools).
RUN pip install --no-cache-dir uv && uv sync --frozen --no-install-project --no-cache
COPY . .
RUN mkdir -p /app/var \
 && APP_ENV=development DATABASE_URL=postgresql://x/x DATABASE_OWNER_URL=postgresql://x/x REDIS_URL=redis://x \
    python manage.py collectstatic --no-input -v 0
EXPOSE 8000
CMD ["gunicorn", "advisorportal.wsgi", "-b", "0.0.0.0:8000"]
