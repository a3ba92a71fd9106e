"""Settings for the test suite: the normal settings in APP_ENV=test."""

import os

os.environ.setdefault("APP_ENV", "test")

from advisorportal.settings import *  # noqa: F403

# Tasks run inline, in the test's process.
CELERY_TASK_ALWAYS_EAGER = True
