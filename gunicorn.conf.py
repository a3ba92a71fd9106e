"""gunicorn settings, read from the working directory by every start: production (Dockerfile,
docker-compose.yml), ``make run`` and ``make bench``. The command line adds only the address.

Sync workers, one request at a time each, as gunicorn recommends for CPU-bound apps: Django's
per-request work is Python, and with threads two requests in one process share its interpreter
lock (each took twice as long while a worker on the other core sat idle). A sync worker takes a
connection only when it is free, so no request waits behind another while a worker is idle. Put
a buffering reverse proxy (nginx, a load balancer) in front, as for any sync worker, so that slow
clients don't hold workers.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", 0)) or multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"
timeout = int(os.environ.get("WEB_TIMEOUT", 60))
max_requests = 5000  # recycle workers now and then (memory), staggered
max_requests_jitter = 500
control_socket_disable = True
