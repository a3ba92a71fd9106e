# Image for docker-compose.yml: web (gunicorn), worker and beat share it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_VAR_DIR=/app/var
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . && mkdir -p /app/var \
 && APP_ENV=development DATABASE_URL=postgresql://x/x DATABASE_OWNER_URL=postgresql://x/x REDIS_URL=redis://x \
    python manage.py collectstatic --no-input -v 0
EXPOSE 8000
CMD ["gunicorn", "advisorportal.wsgi", "-b", "0.0.0.0:8000"]
