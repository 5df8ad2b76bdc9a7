"""Every HTTP behaviour test, collected again here so it runs over SQLite and MySQL (this
folder's `api` fixture) as well as over the in-memory adapters."""

from tests.unit.web.test_hard_edges import *  # noqa: F403
from tests.unit.web.test_http_semantics import *  # noqa: F403
from tests.unit.web.test_images_api import *  # noqa: F403
