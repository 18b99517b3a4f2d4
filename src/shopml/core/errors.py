"""Exceptions raised by shopml. Each names the bad input and what was expected."""


class ShopMLError(Exception):
    """Base class of every error shopml raises on purpose."""


class ValidationError(ShopMLError, ValueError):
    """An argument or input frame is not what the function expects."""


class DataError(ShopMLError):
    """Data on disk or in the workspace is missing or unusable."""


class IngestError(DataError):
    """A source file could not be ingested at all; the workspace is left unchanged."""


class NotFittedError(ShopMLError):
    """A model was used before ``fit`` (or ``load``)."""
