"""Reading a shop's own labelled texts (tickets, reviews) from a file, messy input included.

CSV, TSV, JSON lines and Parquet are read; a UTF-8 byte-order mark is dropped; bytes that are not
UTF-8 (an unknown encoding) are kept apart per row. Each row that cannot be used is reported with
its line and reason (``empty text``, ``text is not valid UTF-8 (unknown encoding)``,
``missing label``, ``rating is not a number``) and skipped; nothing is dropped silently and a bad
row never fails the whole file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError


@dataclass
class TextTable:
    """The usable rows (``text`` and ``y``) and the skipped ones with their reasons."""

    texts: list[str]
    y: np.ndarray
    source: str
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "reason"]))

    def summary(self) -> str:
        """``1200 rows read from f.csv; 3 skipped (2 empty text, 1 missing label)``."""
        line = f"{len(self.texts)} rows read from {self.source}"
        if len(self.skipped):
            counts = self.skipped["reason"].value_counts()
            line += (
                f"; {len(self.skipped)} skipped ("
                + ", ".join(f"{n} {r}" for r, n in counts.items())
                + ")"
            )
        return line


def _read_frame(path: Path) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row is found and
    # reported instead of the whole file failing to decode
    text = raw.decode("utf-8", errors="surrogateescape")
    if ".jsonl" in suffix or ".json" in suffix:
        return pd.read_json(io.StringIO(text), lines=True, dtype=False)
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return pd.read_csv(
        io.StringIO(text),
        sep=sep,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        on_bad_lines="warn",
        engine="python",
    )


def read_labelled(
    path: str | Path,
    text_col: str = "text",
    label_col: str | None = None,
    rating_col: str | None = None,
    extra_text_col: str | None = None,
) -> TextTable:
    """Texts and labels (``label_col``) or numeric ratings (``rating_col``) from a file.

    ``extra_text_col`` (e.g. a review title) is prepended to the text when present.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if (label_col is None) == (rating_col is None):
        raise ValidationError("give exactly one of label_col and rating_col")
    try:
        df = _read_frame(path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path} cannot be read as a table: {exc}") from None
    ycol = label_col or rating_col
    for col in (text_col, ycol):
        if col not in df.columns:
            raise ValidationError(
                f"{path} has no column {col!r}; its columns are {list(df.columns)}"
            )
    text = df[text_col].astype("string")
    if extra_text_col and extra_text_col in df.columns:
        title = df[extra_text_col].astype("string").fillna("")
        text = (title + ". " + text.fillna("")).str.strip(". ").replace("", pd.NA)
    reasons = pd.Series(pd.NA, index=df.index, dtype="string")
    empty = text.isna() | (text.fillna("").str.strip() == "")
    reasons[empty] = "empty text"
    bad_enc = ~empty & text.fillna("").str.contains(r"[\udc80-\udcff]", regex=True)
    reasons[bad_enc & reasons.isna()] = "text is not valid UTF-8 (unknown encoding)"
    yraw = df[ycol]
    missing = yraw.isna() | (yraw.astype("string").str.strip() == "")
    reasons[missing & reasons.isna()] = "missing label" if label_col else "missing rating"
    if rating_col:
        y = pd.to_numeric(yraw, errors="coerce")
        reasons[y.isna() & ~missing & reasons.isna()] = "rating is not a number"
    else:
        y = yraw.astype("string").str.strip()
    keep = reasons.isna().to_numpy()
    skipped = pd.DataFrame(
        {
            # line numbers as a person counts them in the file (header is line 1)
            "row": np.flatnonzero(~keep) + 2,
            "reason": reasons[~keep].astype(str).to_numpy(),
        }
    )
    texts = text[keep].astype(str).tolist()
    yv = y[keep].to_numpy(dtype=np.float64 if rating_col else object)
    if not rating_col:
        yv = yv.astype(str)
    if not texts:
        raise DataError(
            f"{path}: no usable rows ({len(skipped)} skipped: "
            f"{skipped['reason'].value_counts().to_dict()})"
        )
    return TextTable(texts, yv, str(path), skipped)
