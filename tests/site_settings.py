"""Settings for the test suite: the one real settings module, fed a test environment.

pytest-django imports this before any conftest runs, so this is where the
environment the tests need is set (values already in the environment win:
CI sets DATABASE_URL for its PostgreSQL pass).  Real-worker tests hand the same
variables to the worker processes they start.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# A Redis database and queue of their own, so tests never meet a developer's `make run` worker.
# Set, not defaulted: tests must never touch the database REDIS_URL names for `make run`.
os.environ["REDIS_URL"] = os.environ.get("COLORSITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
# A queue per test run (worker processes inherit the name), so two runs side by side never take
# each other's tasks.
os.environ.setdefault("COLORSITE_TEST_QUEUE", f"colorsite-tests-{os.getpid()}")
os.environ["COLORSITE_QUEUE"] = os.environ["COLORSITE_TEST_QUEUE"]
# No hourly upload limit unless a test sets one (tests/test_security_limits.py): its counters live in
# Redis, which no test's rollback empties, and user ids repeat from test to test.
os.environ.setdefault("COLORSITE_UPLOADS_PER_HOUR", "0")
# No cap on one person's photos in flight unless a test sets one (tests/test_fair_use_*.py): the other tests
# colour several photos of one person and expect each to be sent at once.
os.environ.setdefault("COLORSITE_IN_FLIGHT_PER_PERSON", "0")

from colorsite.settings import *  # noqa: E402,F401,F403

# Password hashing at full strength costs ~0.3 s a login; tests only need it to work.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
