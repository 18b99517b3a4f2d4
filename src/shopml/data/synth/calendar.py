"""The simulated horizon: days, weekly and yearly seasonality, time of day, time stamps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopml.data.synth.config import SimConfig

DAY = 86_400.0
# Relative traffic by hour of day (UTC): quiet nights, an evening peak.
HOURS = np.array(
    [
        0.3,
        0.2,
        0.15,
        0.1,
        0.1,
        0.15,
        0.3,
        0.6,
        0.9,
        1.0,
        1.0,
        1.1,
        1.2,
        1.1,
        1.0,
        1.0,
        1.1,
        1.2,
        1.4,
        1.6,
        1.8,
        1.7,
        1.2,
        0.6,
    ]
)
# Fraudsters keep other hours: flatter, with more of the night.
FRAUD_HOURS = np.array(
    [
        1.3,
        1.4,
        1.5,
        1.5,
        1.3,
        1.0,
        0.8,
        0.7,
        0.7,
        0.8,
        0.8,
        0.9,
        0.9,
        0.9,
        0.9,
        0.9,
        0.9,
        1.0,
        1.0,
        1.0,
        1.0,
        1.1,
        1.2,
        1.2,
    ]
)
YEAR_PEAK = 340  # day of year of the yearly peak (early December)
HOLIDAY_DAY, HOLIDAY_WIDTH = 333, 6.0  # late-November shopping week


@dataclass(frozen=True)
class Calendar:
    """Days of the horizon and the traffic multiplier of each."""

    start: np.datetime64  # first day, UTC midnight
    days: int
    dow: np.ndarray  # 0 = Monday
    doy: np.ndarray  # 1 .. 366
    weekly: np.ndarray  # (7,) normalised to mean 1
    yearly: np.ndarray  # (days,) yearly factor
    season: np.ndarray  # (days,) s(d) = weekly[dow(d)] * yearly(d)

    @property
    def end_sec(self) -> float:
        return self.days * DAY

    def cycle(self, peak_day: np.ndarray | float, amplitude: np.ndarray | float) -> np.ndarray:
        """``1 + a cos(2 pi (doy - peak) / 365.25)`` per day (columns) for each (peak, a) (rows)."""
        peak = np.atleast_1d(np.asarray(peak_day, dtype=float))[:, None]
        amp = np.atleast_1d(np.asarray(amplitude, dtype=float))[:, None]
        return 1.0 + amp * np.cos(2 * np.pi * (self.doy[None, :] - peak) / 365.25)

    def timestamps(self, sec: np.ndarray) -> pd.Series:
        """Seconds since the start of the horizon as a UTC timestamp column (microseconds)."""
        base = self.start.astype("datetime64[us]").astype(np.int64)
        us = base + np.round(np.asarray(sec, dtype=float) * 1e6).astype(np.int64)
        return pd.Series(pd.to_datetime(us, unit="us", utc=True))

    def dates(self, day: np.ndarray) -> np.ndarray:
        """Day indices as ``datetime.date`` objects (Arrow ``date32``)."""
        return (self.start + np.asarray(day).astype("timedelta64[D]")).astype(object)


def make_calendar(cfg: SimConfig) -> Calendar:
    start = np.datetime64(cfg.start, "D")
    day = np.arange(cfg.days)
    dates = start + day.astype("timedelta64[D]")
    dow = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    doy = pd.DatetimeIndex(dates).dayofyear.to_numpy()
    weekly = np.asarray(cfg.weekly, dtype=float)
    weekly = weekly / weekly.mean()
    yearly = (
        1.0
        + cfg.yearly_amplitude * np.cos(2 * np.pi * (doy - YEAR_PEAK) / 365.25)
        + cfg.holiday_boost * np.exp(-0.5 * ((doy - HOLIDAY_DAY) / HOLIDAY_WIDTH) ** 2)
    )
    return Calendar(start, cfg.days, dow, doy, weekly, yearly, weekly[dow] * yearly)


def sample_seconds(rng: np.random.Generator, day: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """A time on each given day, the hour drawn from the ``hours`` profile."""
    cdf = np.cumsum(hours) / hours.sum()
    hour = np.minimum(np.searchsorted(cdf, rng.random(day.size), side="right"), 23)
    return day * DAY + hour * 3600.0 + rng.random(day.size) * 3600.0
