import os

# Playwright's sync API runs an event loop in the test thread; the tests' own ORM calls there are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
