"""What the tests need to know about the build tree under test
(DBR_BINARY_DIR)."""
import os
import re

BUILD = os.environ.get("DBR_BINARY_DIR", "")


def sanitized_build():
    """True for a -DDBR_SANITIZE=ON build (ASan + UBSan)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return re.search(r"^DBR_SANITIZE:BOOL=ON$", f.read(), re.M) is not None
    except OSError:
        return False
