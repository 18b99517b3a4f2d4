"""Which capabilities a workspace can run, and what data each one that cannot is missing.

Every capability spec declares its data needs as :class:`~shopml.core.capability.Requirement`
records (a table, columns that must be filled, a row filter, a minimum number of rows and of
days covered) or :class:`~shopml.core.capability.AnyOf` groups of them. :func:`doctor` checks
them against a workspace with one SQL count per requirement and says, in words, what is there
and what is missing::

    clv cannot run: needs completed orders with user ids (orders with user_id, ts filled in,
    where status = 'completed'): at least 200 rows over at least 180 days; you have 1,204 rows
    over 30 days

``shopml doctor -w W`` prints these findings; the dashboard's overview shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shopml.core.capability import AnyOf, Capability, Requirement
from shopml.core.errors import ShopMLError
from shopml.data.schema import TABLES


@dataclass(frozen=True)
class Check:
    """One requirement checked: what the workspace has against what is needed."""

    requirement: Requirement
    ok: bool
    rows: int
    days: float | None  # time covered by those rows (None: no time column or no rows)
    problem: str = ""  # a requirement the workspace cannot evaluate (unknown column, bad filter)

    @property
    def needs(self) -> str:
        """What is needed, in words: "orders with user ids (orders: ...): at least ..."."""
        req = self.requirement
        what = req.why or f"{req.table} rows"
        detail = req.table
        if req.columns:
            detail += f" with {', '.join(req.columns)} filled in"
        if req.where:
            detail += f", where {req.where}"
        amount = f"at least {req.min_rows:,} row{'s' if req.min_rows != 1 else ''}"
        if req.min_days:
            amount += f" over at least {req.min_days:g} days"
        return f"{what} ({detail}): {amount}"

    @property
    def have(self) -> str:
        """What the workspace has, in words: "you have 1,204 rows over 30 days"."""
        if self.problem:
            return f"cannot check: {self.problem}"
        text = f"you have {self.rows:,} row{'s' if self.rows != 1 else ''}"
        if self.days is not None and (self.requirement.min_days or self.rows):
            text += f" over {_days(self.days)}"
        return text

    def sentence(self) -> str:
        return f"{self.needs}; {self.have}"

    def as_dict(self) -> dict[str, Any]:
        req = self.requirement
        return {
            "table": req.table,
            "columns": list(req.columns),
            "where": req.where,
            "min_rows": req.min_rows,
            "min_days": req.min_days,
            "why": req.why,
            "ok": self.ok,
            "rows": self.rows,
            "days": None if self.days is None else round(self.days, 2),
            "problem": self.problem or None,
            "message": self.sentence(),
        }


@dataclass(frozen=True)
class Finding:
    """One capability: can it run on this workspace, and if not, what is missing."""

    name: str
    summary: str
    ok: bool
    missing: list[str] = field(default_factory=list)  # one sentence per unmet need
    checks: list[Check] = field(default_factory=list)
    error: str = ""  # the spec itself could not be loaded or checked

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "ok": self.ok,
            "missing": list(self.missing),
            "checks": [c.as_dict() for c in self.checks],
            "error": self.error or None,
        }


def _days(d: float) -> str:
    if d < 1:
        hours = d * 24
        return f"{hours:.0f} hour{'s' if round(hours) != 1 else ''}"
    return f"{d:,.0f} day{'s' if round(d) != 1 else ''}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_exists(con: Any, name: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(found[0][0])


def check_requirement(ws: Any, req: Requirement) -> Check:
    """Count the rows of ``req.table`` that meet ``req`` and the days they cover."""
    tbl = TABLES.get(req.table)
    if tbl is None:
        return Check(req, False, 0, None, f"no table {req.table!r} in the workspace schema")
    unknown = [c for c in req.columns if c not in tbl.columns]
    if unknown:
        return Check(req, False, 0, None, f"table {req.table} has no column(s) {unknown}")
    time_col = req.time_column if req.time_column in tbl.columns else None
    if req.min_days and time_col is None:
        problem = f"table {req.table} has no time column {req.time_column!r}"
        return Check(req, False, 0, None, problem)
    if not _table_exists(ws.con, req.table):  # a workspace made before the table existed
        return Check(req, req.min_rows <= 0 and not req.min_days, 0, None)
    conds = [f"{_ident(c)} IS NOT NULL" for c in req.columns]
    if req.where:
        conds.append(f"({req.where})")
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    span = "NULL"
    if time_col is not None:
        # epoch() of a DATE is midnight UTC, so dates and timestamps span the same way
        t = f"epoch(CAST({_ident(time_col)} AS TIMESTAMP))"
        span = f"(max({t}) - min({t})) / 86400.0"
    try:
        rows, days = ws.con.execute(
            f"SELECT count(*), {span} FROM {_ident(req.table)}{where}"
        ).fetchall()[0]
    except Exception as exc:  # a filter the workspace cannot evaluate: say so, do not crash
        problem = f"the filter {req.where!r} fails: {str(exc).splitlines()[0]}"
        return Check(req, False, 0, None, problem)
    rows = int(rows)
    days = None if days is None else float(days)
    ok = rows >= req.min_rows and (not req.min_days or (days is not None and days >= req.min_days))
    return Check(req, ok, rows, days)


def check(ws: Any, requires: Iterable[Requirement | AnyOf]) -> tuple[bool, list[str], list[Check]]:
    """(all met, one sentence per unmet need, every check) for a list of requirements."""
    missing: list[str] = []
    checks: list[Check] = []
    for need in requires:
        if isinstance(need, AnyOf):
            options = [check_requirement(ws, r) for r in need.options]
            checks += options
            if not any(c.ok for c in options):
                if len(options) == 1:
                    missing.append(f"needs {options[0].sentence()}")
                else:
                    parts = "; or ".join(c.sentence() for c in options)
                    missing.append(f"needs one of: {parts}")
        elif isinstance(need, Requirement):
            c = check_requirement(ws, need)
            checks.append(c)
            if not c.ok:
                missing.append(f"needs {c.sentence()}")
        else:
            raise ShopMLError(f"a requirement must be a Requirement or AnyOf, got {need!r}")
    return not missing, missing, checks


def check_capability(ws: Any, spec: Capability) -> Finding:
    """Whether the capability ``spec`` can run on the workspace ``ws``."""
    try:
        ok, missing, checks = check(ws, spec.requires)
    except ShopMLError as exc:
        return Finding(spec.name, spec.summary, False, [], [], str(exc))
    return Finding(spec.name, spec.summary, ok, missing, checks)


def doctor(ws: Any, specs: Mapping[str, Capability] | Iterable[Capability]) -> list[Finding]:
    """One :class:`Finding` per capability spec, in the order given.

    ``ws`` is an open :class:`~shopml.data.workspace.Workspace` (read-only is enough);
    ``specs`` is :func:`shopml.capabilities.specs()` or any list of specs.
    """
    values = specs.values() if isinstance(specs, Mapping) else specs
    return [check_capability(ws, s) for s in values]


__all__ = ["Check", "Finding", "check", "check_capability", "check_requirement", "doctor"]
