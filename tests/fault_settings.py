"""Settings for the fault tests' processes: the test settings, with a storage whose writes can be made to fail."""

from tests.site_settings import *  # noqa: F401,F403
from tests.site_settings import STORAGES

STORAGES = dict(STORAGES, default={"BACKEND": "tests.flaky_storage.FlakyStorage"})
