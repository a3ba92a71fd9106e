"""Settings for the test suite: the normal settings in APP_ENV=test."""

import os
import tempfile

os.environ.setdefault("APP_ENV", "test")

from advisorportal.settings import *  # noqa: F403

# Tasks run inline, in the test's process.
CELERY_TASK_ALWAYS_EAGER = True

# Test databases are re-created with the same name (and the same firm ids) on every run, and
# rolled-back tests never invalidate what they cached: give each test process its own key space.
CACHES["default"]["KEY_PREFIX"] = f"ap-test-{os.getpid()}-{os.urandom(4).hex()}"  # noqa: F405

# Documents that tests store go to a temporary directory of this process, never to var/.
STORAGES["documents"] = {  # noqa: F405
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": tempfile.mkdtemp(prefix="ap-test-documents-")},
}
