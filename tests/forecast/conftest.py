"""statsforecast compiles with numba on first use: cache the compiled code under the user's
cache folder so that later runs (and the other test processes) reuse it."""

import os
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "shopml" / "numba"))
