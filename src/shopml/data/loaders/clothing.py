"""Clothing dataset (small, A. Grigorev, CC0): 3,409 garment photos in 10 classes with a fixed split.

Each line of ``labels.csv`` (``path, split, label, width, height, mode``, listed from the image
folders) becomes an ``items`` row: ``item_id`` = the image's file stem (a UUID), ``title`` and
``category`` = ``label`` (dress, hat, ..., t-shirt), ``image_path`` = the image's absolute path,
resolved against the dataset folder at ingest time, and ``attributes = {split, width, height,
mode}``. Images are not opened at ingest: they are decoded lazily with
:func:`shopml.data.images.load_image`. ``labels.csv`` is generated locally (the source repository,
github.com/alexeygrigorev/clothing-dataset-small, ships only the image folders), so there is no
single-file download.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, col, read_csv, sql_str
from shopml.data.loaders.base import Loader

FILE = "labels.csv"


class ClothingImages(Loader):
    name = "clothing-images"
    folder = "clothing_dataset_small"
    files = (FILE,)
    description = "Clothing photos: 3,409 images in 10 garment classes, train/validation (items)"
    urls: dict[str, str] = {}

    def sources(self, folder: Path) -> list[Source]:
        root = str(Path(folder).resolve()) + "/"
        items = Mapping(
            "items",
            {
                # train/dress/009b3c31-....jpg -> 009b3c31-...
                "item_id": Col(r"regexp_extract(path, '([^/\\]+?)(\.[^./\\]*)?$', 1)"),
                "title": col("label"),
                "category": col("label"),
                "image_path": Col(
                    f"CASE WHEN path LIKE '/%' THEN path ELSE {sql_str(root)} || path END"
                ),
                "attributes": Col(
                    "json_object('split', split, 'width', TRY_CAST(width AS INTEGER), "
                    "'height', TRY_CAST(height AS INTEGER), 'mode', mode)"
                ),
            },
        )
        return [
            Source(
                name=f"{self.name}:{FILE}",
                path=folder / FILE,
                reader=read_csv(folder / FILE),
                mapping=items,
                loader=self.name,
            )
        ]
