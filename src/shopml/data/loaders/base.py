"""What every dataset loader is: a name, where its files live, and the Sources they become."""

from __future__ import annotations

import os
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

from shopml.core.errors import DataError
from shopml.data.ingest import Source


def data_dir() -> Path:
    """The data directory: ``$SHOPML_DATA_DIR``, else ``../shared/data`` from the working directory."""
    env = os.environ.get("SHOPML_DATA_DIR")
    if env:
        return Path(env)
    # default relative to the current directory; fall back to the repository checkout's sibling
    here = Path("../shared/data")
    if here.exists():
        return here
    repo_sibling = Path(__file__).resolve().parents[4].parent / "shared" / "data"
    return repo_sibling if repo_sibling.exists() else here


class Loader(ABC):
    """A named loader for one public dataset.

    Subclasses set the class attributes and implement :meth:`sources`. ``folder`` is the
    dataset's folder under the data directory; ``files`` are the file names that must be
    there; ``urls`` (file name -> URL) are where a user can download them.
    """

    name: str = ""
    folder: str = ""
    files: tuple[str, ...] = ()
    description: str = ""
    urls: dict[str, str] = {}

    def locate(self, path: str | Path | None = None) -> Path:
        """The dataset's folder: ``path`` (a folder, or one of its files) or the data directory's."""
        p = Path(path) if path is not None else data_dir() / self.folder
        if p.is_file():
            p = p.parent
        missing = [f for f in self.files if not (p / f).exists()]
        if missing:
            hint = f"; download with `shopml datasets --download {self.name}`" if self.urls else ""
            raise DataError(f"{self.name}: {p} lacks {missing}{hint}")
        return p

    def found(self) -> bool:
        try:
            self.locate()
            return True
        except DataError:
            return False

    @abstractmethod
    def sources(self, folder: Path) -> list[Source]:
        """The sources (file + mapping) to ingest, in dependency order (catalogue first)."""

    def download(self, dest: str | Path | None = None, timeout: float = 30.0) -> Path:
        """Fetch the dataset's files from their public URLs into ``dest``.

        Needs internet access; on a machine without it this fails with a clear message.
        """
        if not self.urls:
            raise DataError(f"{self.name}: no public download URL is known; place the files in {data_dir() / self.folder}")
        target = Path(dest) if dest else data_dir() / self.folder
        target.mkdir(parents=True, exist_ok=True)
        for fname, url in self.urls.items():
            out = target / fname
            if out.exists():
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(out.suffix + ".part")
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as fh:
                    while chunk := r.read(1 << 20):
                        fh.write(chunk)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise DataError(
                    f"{self.name}: cannot download {url} ({exc}); this machine may be offline: "
                    f"download it elsewhere and place it at {out}"
                ) from exc
            tmp.replace(out)
        return target
