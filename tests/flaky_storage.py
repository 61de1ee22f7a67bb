"""Media storage for the fault tests' worker processes: the real one, with a fault switched on from outside.

While the file named by COLORSITE_TEST_STORAGE_FAULT exists, every file whose name contains the
text in it is written halfway and then fails as a full disk does (ENOSPC).  The fault tests
create and remove that file to break and mend the storage of a running worker.
"""

import errno
import os

from gallery.storage import AtomicFileSystemStorage


class FlakyStorage(AtomicFileSystemStorage):
    def _save(self, name, content):
        switch = os.environ.get("COLORSITE_TEST_STORAGE_FAULT", "")
        try:
            target = open(switch).read().strip() if switch else ""
        except FileNotFoundError:
            target = ""
        if target and target in name:
            content = HalfThenFull(content)
        return super()._save(name, content)


class HalfThenFull:
    """File content whose write stops halfway with "No space left on device"."""

    def __init__(self, content):
        self.data = content.read()

    def chunks(self, chunk_size=None):
        yield self.data[: len(self.data) // 2]
        raise OSError(errno.ENOSPC, "No space left on device")
