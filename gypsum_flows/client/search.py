"""Text search on a metadata index (section 7 of docs/gypsum-api.md, plus R's extras).

A query is a tree of :class:`GypsumSearchClause`: text clauses (matched
against the index's tokens, optionally restricted to one field and with
``%``/``_`` wildcards), column clauses on project, asset, version, path, user
and upload time, combined with ``&``, ``|`` and ``~``. Text is tokenised by
:func:`gypsum_flows.tokens.split_into_tokens`, the indexer's own tokeniser, so
``"Müller"`` finds what the indexer stored as ``muller``. All values reach
SQLite as bound parameters.

Example:
    >>> q = define_text_query("mouse") & ~define_text_query("brain", field="title")
    >>> f = search_metadata_text_filter(q)
    >>> f["parameters"]
    {'p0': 'mouse', 'p1': 'brain', 'p2': 'title'}
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .._sqlite import shared_reader
from ..tokens import split_into_tokens

#: Column clause types and the column each one compares.
_COLUMNS = {
    "project": "versions.project",
    "asset": "versions.asset",
    "version": "versions.version",
    "path": "paths.path",
    "user": "versions.user",
}
#: Every column a clause may compare, by clause type: the defaults of R's ``searchMetadataFilter`` names.
_NAMES = {**_COLUMNS, "time": "versions.time"}

#: The ``user_version`` from which the index has ``user`` and ``time`` columns (1.1.0).
_USER_TIME_VERSION = 1001000

#: Characters kept inside tokens of partial text clauses: SQL ``LIKE`` wildcards.
_WILDCARDS = "%_"


@dataclass
class GypsumSearchClause:
    """One node of a search query.

    ``type`` is ``"text"``, ``"and"``, ``"or"``, ``"not"``, or a column clause:
    ``"project"``, ``"asset"``, ``"version"``, ``"path"``, ``"user"`` (value in
    ``text``) or ``"time"`` (Unix seconds in ``time``, matching versions
    uploaded after it when ``after`` is true, else at or before it).
    """

    type: str
    text: str | None = None
    field: str | None = None
    partial: bool = False
    children: list[GypsumSearchClause] = dataclasses.field(default_factory=list)
    child: GypsumSearchClause | None = None
    time: float | None = None
    after: bool = True

    def __and__(self, other: GypsumSearchClause) -> GypsumSearchClause:
        return GypsumSearchClause(type="and", children=[self, other])

    def __or__(self, other: GypsumSearchClause) -> GypsumSearchClause:
        return GypsumSearchClause(type="or", children=[self, other])

    def __invert__(self) -> GypsumSearchClause:
        return GypsumSearchClause(type="not", child=self)

    @property
    def negated(self) -> GypsumSearchClause:
        """The clause a ``not`` clause negates."""
        if self.child is None:
            raise ValueError(f"a {self.type!r} clause negates nothing")
        return self.child


def define_text_query(text: str, field: str | None = None, partial: bool = False) -> GypsumSearchClause:
    """A text clause, as in gypsum_client.

    Args:
        text: Words to look for; each token must match (AND).
        field: Restrict matches to this ``.``-joined property path, e.g. ``"title"``.
        partial: Treat ``%`` and ``_`` in ``text`` as SQL ``LIKE`` wildcards.

    Example:
        >>> define_text_query("lung%", field="title", partial=True).type
        'text'
    """
    return GypsumSearchClause(type="text", text=text, field=field, partial=partial)


def gsc(
    text: str | None = None,
    *,
    project: str | None = None,
    asset: str | None = None,
    version: str | None = None,
    path: str | None = None,
    user: str | None = None,
    time: float | datetime | None = None,
    field: str | None = None,
    partial: bool = False,
    after: bool = True,
) -> GypsumSearchClause:
    """A clause on exactly one of text, project, asset, version, path, user or time (R's ``gsc``).

    Args:
        text: As :func:`define_text_query` (with ``field`` and ``partial``).
        project, asset, version, path, user: Compare that column with ``=``, or
            with ``LIKE`` when ``partial``.
        time: A :class:`datetime` or Unix seconds; matches versions finished
            after it (``after=True``) or at or before it.
        field: Field restriction of a text clause.
        partial: Wildcard matching for text and column clauses.
        after: Direction of a time clause.

    Raises:
        ValueError: Not exactly one of the criteria is given.

    Example:
        >>> gsc(project="test-%", partial=True).type
        'project'
        >>> gsc(time=0, after=False).time
        0.0
    """
    criteria = dict(text=text, project=project, asset=asset, version=version, path=path, user=user, time=time)
    given = {k: v for k, v in criteria.items() if v is not None}
    if len(given) != 1:
        raise ValueError(
            f"expected exactly one of text, project, asset, version, path, user or time (got {sorted(given) or 'none'})"
        )
    ((kind, value),) = given.items()
    if not isinstance(value, str):  # the time
        seconds = value.timestamp() if isinstance(value, datetime) else float(value)
        return GypsumSearchClause(type="time", time=seconds, after=after)
    if kind == "text":
        return define_text_query(value, field=field, partial=partial)
    return GypsumSearchClause(type=kind, text=value, partial=partial)


# --- sanitising ----------------------------------------------------------------------------------


def _as_clause(query: str | list[str] | GypsumSearchClause) -> GypsumSearchClause:
    """Strings and lists of strings as text clauses (a list is an AND)."""
    if isinstance(query, str):
        return define_text_query(query)
    if isinstance(query, list):
        if not query:
            raise ValueError("'query' must have at least 1 element")
        return GypsumSearchClause(type="and", children=[define_text_query(q) for q in query])
    if isinstance(query, GypsumSearchClause):
        return query
    kind = type(query).__name__
    raise TypeError(f"'query' should be a string, a list of strings or a GypsumSearchClause (got {kind})")


def _sanitize(query: GypsumSearchClause) -> GypsumSearchClause | None:
    """A copy with text split into tokens and empty clauses dropped; ``None`` if nothing remains.

    Nested ANDs and ORs are flattened, as in R.
    """
    if query.type == "text":
        if not isinstance(query.text, str):
            raise ValueError("a text clause needs a string 'text'")
        tokens = split_into_tokens(query.text, keep=_WILDCARDS if query.partial else "")
        children = [replace(query, text=t) for t in tokens]
        return _combine("and", children)
    if query.type == "not":
        if query.child is None:
            raise ValueError("a 'not' clause needs a 'child'")
        child = _sanitize(query.child)
        return None if child is None else GypsumSearchClause(type="not", child=child)
    if query.type in ("and", "or"):
        kept = [c for c in map(_sanitize, query.children) if c is not None]
        flat = [g for c in kept for g in (c.children if c.type == query.type else [c])]
        return _combine(query.type, flat)
    if query.type in _COLUMNS:
        if not isinstance(query.text, str):
            raise ValueError(f"a '{query.type}' clause needs a string value")
        return query
    if query.type == "time":
        if query.time is None:
            raise ValueError("a 'time' clause needs a 'time'")
        return query
    raise ValueError(f"unknown search clause type '{query.type}'")


def _combine(kind: str, children: list[GypsumSearchClause]) -> GypsumSearchClause | None:
    """``kind`` of ``children``, the only child itself, or ``None`` for none."""
    if not children:
        return None
    if len(children) == 1:
        return children[0]
    return GypsumSearchClause(type=kind, children=children)


# --- SQL -----------------------------------------------------------------------------------------


class _SqlBuilder:
    """Builds the condition of a sanitised clause, collecting the bound parameters ``:p0``, ``:p1``, ...

    With ``counts`` (documents per token, from the database), an AND of text
    clauses is driven by its rarest token and probes the others per
    document; without, it intersects the tokens' document lists.
    """

    def __init__(self, pid: str, counts: Mapping[str, int] | None = None, columns: Mapping[str, str] = _NAMES) -> None:
        self.pid = pid
        self.counts = counts
        self.columns = columns
        self.values: dict[str, Any] = {}

    def param(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"

    def match(self, clause: GypsumSearchClause) -> str:
        """A condition on one ``links`` row for a text clause (token, and field if restricted)."""
        op = "LIKE" if clause.partial else "="
        cond = f"links.tid IN (SELECT tid FROM tokens WHERE token {op} {self.param(clause.text)})"
        if clause.field is not None:
            cond = f"({cond} AND links.fid IN (SELECT fid FROM fields WHERE field = {self.param(clause.field)}))"
        return cond

    def build(self, query: GypsumSearchClause) -> str:
        if query.type == "text":
            return f"{self.pid} IN (SELECT pid FROM links WHERE {self.match(query)})"
        if query.type == "not":
            return f"NOT ({self.build(query.negated)})"
        if query.type == "and":
            return self._and(query.children)
        if query.type == "or":
            return self._or(query.children)
        if query.type == "time":
            return f"{self.columns['time']} {'>' if query.after else '<='} {self.param(query.time)}"
        return f"{self.columns[query.type]} {'LIKE' if query.partial else '='} {self.param(query.text)}"

    def _estimate(self, clause: GypsumSearchClause) -> float:
        return math.inf if clause.partial or self.counts is None else self.counts.get(clause.text or "", 0)

    def _and(self, children: list[GypsumSearchClause]) -> str:
        texts = sorted((c for c in children if c.type == "text"), key=self._estimate)
        negated = [c.negated for c in children if c.type == "not" and c.negated.type == "text"] if texts else []
        parts = []
        if texts and self.counts is not None:
            probe = f"SELECT 1 FROM links WHERE links.pid = {self.pid} AND "
            parts.append(f"{self.pid} IN (SELECT pid FROM links WHERE {self.match(texts[0])})")
            parts += [f"EXISTS ({probe}{self.match(c)})" for c in texts[1:]]
            parts += [f"NOT EXISTS ({probe}{self.match(c)})" for c in negated]
        elif texts:
            compound = " INTERSECT ".join(f"SELECT pid FROM links WHERE {self.match(c)}" for c in texts)
            compound += "".join(f" EXCEPT SELECT pid FROM links WHERE {self.match(c)}" for c in negated)
            parts.append(f"{self.pid} IN ({compound})")
        parts += [
            self.build(c) for c in children if c.type != "text" and not (c.type == "not" and c.negated in negated)
        ]
        return "(" + " AND ".join(parts) + ")"

    def _or(self, children: list[GypsumSearchClause]) -> str:
        texts = [c for c in children if c.type == "text"]
        parts = []
        if texts:
            # One subquery for all text alternatives: a single pass over links.
            matches = " OR ".join(self.match(c) for c in texts)
            parts.append(f"{self.pid} IN (SELECT pid FROM links WHERE {matches})")
        parts += [self.build(c) for c in children if c.type != "text"]
        return "(" + " OR ".join(parts) + ")"


def _filter(
    clause: GypsumSearchClause | None,
    pid_name: str,
    counts: Mapping[str, int] | None,
    columns: Mapping[str, str] = _NAMES,
) -> dict[str, Any]:
    if clause is None:
        return {"where": [], "parameters": {}}
    builder = _SqlBuilder(pid_name, counts, columns)
    return {"where": [builder.build(clause)], "parameters": builder.values}


def _anded_tokens(clause: GypsumSearchClause) -> set[str]:
    """Exact tokens of text clauses directly under an AND: those whose frequency picks the driver."""
    found: set[str] = set()
    if clause.type == "and":
        found.update(c.text for c in clause.children if c.type == "text" and not c.partial and c.text is not None)
    for child in [*clause.children, *([clause.child] if clause.child else [])]:
        found |= _anded_tokens(child)
    return found


def _token_counts(conn: Any, clause: GypsumSearchClause | None) -> dict[str, int]:
    """Documents per token (counted on the index, all fields) for the tokens an AND must order."""
    tokens = sorted(_anded_tokens(clause)) if clause is not None else []
    if not tokens:
        return {}
    marks = ",".join("?" * len(tokens))
    rows = conn.execute(
        f"SELECT token, (SELECT count(*) FROM links WHERE links.tid = tokens.tid) FROM tokens WHERE token IN ({marks})",
        tokens,
    )
    return dict(rows.fetchall())


def search_metadata_text_filter(
    query: str | list[str] | GypsumSearchClause, pid_name: str = "paths.pid"
) -> dict[str, Any]:
    """The SQL ``WHERE`` conditions and bound parameters for ``query``.

    Args:
        query: A string, a non-empty list of strings (AND), or a clause.
        pid_name: The column holding path IDs in the outer query.

    Returns:
        ``{"where": [condition] or [], "parameters": {"p0": value, ...}}``; the
        list is empty when the query holds no token at all. Column clauses refer
        to ``versions`` and ``paths``, so the outer query must join both.

    Example:
        >>> search_metadata_text_filter("  ,, ")
        {'where': [], 'parameters': {}}
    """
    return _filter(_sanitize(_as_clause(query)), pid_name, None)


def search_metadata_filter(
    query: str | list[str] | GypsumSearchClause,
    pid_name: str = "paths.pid",
    project_name: str = "versions.project",
    asset_name: str = "versions.asset",
    version_name: str = "versions.version",
    path_name: str = "paths.path",
    user_name: str = "versions.user",
    time_name: str = "versions.time",
) -> dict[str, Any]:
    """R's ``searchMetadataFilter``: :func:`search_metadata_text_filter` with every column's name settable.

    Args:
        query: A string, a non-empty list of strings (AND), or a clause.
        pid_name, project_name, asset_name, version_name, path_name, user_name, time_name: The name or alias
            of each column in the outer query (R's ``pid.name``, ``project.name``, ...).

    Example:
        >>> search_metadata_filter(gsc(project="p"), project_name="v.project")
        {'where': ['v.project = :p0'], 'parameters': {'p0': 'p'}}
    """
    columns = {
        "project": project_name,
        "asset": asset_name,
        "version": version_name,
        "path": path_name,
        "user": user_name,
        "time": time_name,
    }
    return _filter(_sanitize(_as_clause(query)), pid_name, None, columns)


def search_metadata_text(
    path: str | os.PathLike[str],
    query: str | list[str] | GypsumSearchClause,
    latest: bool = True,
    include_metadata: bool = True,
) -> list[dict[str, Any]]:
    """Search a metadata index (e.g. from :func:`fetch_metadata_database`).

    Args:
        path: The SQLite file.
        query: A string, a non-empty list of strings (AND), or a clause.
        latest: Only search the latest version of each asset.
        include_metadata: Add each document, parsed, as ``metadata``.

    Returns:
        One dict per matching document: ``project``, ``asset``, ``version``,
        ``path``, then ``metadata`` if asked for, ``latest`` (bool) unless
        ``latest``, and ``user`` and ``time`` (Unix seconds) when the index
        has them (format 1.1.0 and later).

    Example:
        >>> import tempfile, pathlib
        >>> from gypsum_flows.index.db import IndexWriter
        >>> db = pathlib.Path(tempfile.mkdtemp()) / "demo.sqlite3"
        >>> with IndexWriter(db) as w:
        ...     w.add_version("p", "a", "v1", True, {"upload_user_id": "me", "upload_finish": "2024-01-01T00:00:00Z"},
        ...                   {"x/_bioconductor.json": {"title": "Mouse brain"}})
        >>> [r["path"] for r in search_metadata_text(db, "mouse", include_metadata=False)]
        ['x/_bioconductor.json']
    """
    clause = _sanitize(_as_clause(query))
    with shared_reader(path) as conn:
        where = _filter(clause, "paths.pid", _token_counts(conn, clause))
        conds, params = where["where"], where["parameters"]
        has_user_time = conn.execute("PRAGMA user_version").fetchone()[0] >= _USER_TIME_VERSION
        columns = ["versions.project AS project", "versions.asset AS asset", "versions.version AS version", "path"]
        if include_metadata:
            columns.append("json_extract(metadata, '$') AS metadata")
        if latest:
            conds = [*conds, "versions.latest = 1"]
        else:
            columns.append("versions.latest AS latest")
        if has_user_time:
            columns += ["versions.user AS user", "versions.time AS time"]
        stmt = f"SELECT {', '.join(columns)} FROM paths LEFT JOIN versions ON paths.vid = versions.vid"
        if conds:
            stmt += " WHERE " + " AND ".join(conds)
        cursor = conn.execute(stmt, params)
        names = [d[0] for d in cursor.description]
        results = [dict(zip(names, row, strict=True)) for row in cursor]
    for r in results:
        if include_metadata:
            r["metadata"] = json.loads(r["metadata"])
        if not latest:
            r["latest"] = bool(r["latest"])
    return results


# --- translate_text_query ------------------------------------------------------------------------

_LEXEME = re.compile(r"\(|\)|[^\s()]+")
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.]*):(.*)$", re.DOTALL)


class _Parser:
    """Recursive descent over ``OR`` > ``AND``/adjacency > ``NOT`` > parentheses and word runs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.items = [(m.group(0), m.start()) for m in _LEXEME.finditer(text)]
        self.i = 0

    def peek(self) -> str | None:
        return self.items[self.i][0] if self.i < len(self.items) else None

    def fail(self, what: str) -> ValueError:
        where = f"at position {self.items[self.i][1]}" if self.i < len(self.items) else "at the end"
        return ValueError(f"invalid text query {self.text!r}: {what} {where}")

    def parse(self) -> GypsumSearchClause:
        clause = self.or_expr()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}")
        return clause

    def or_expr(self) -> GypsumSearchClause:
        parts = [self.and_expr()]
        while self.peek() == "OR":
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else GypsumSearchClause(type="or", children=parts)

    def and_expr(self) -> GypsumSearchClause:
        parts = [self.not_expr()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else GypsumSearchClause(type="and", children=parts)

    def not_expr(self) -> GypsumSearchClause:
        if self.peek() == "NOT":
            self.i += 1
            return GypsumSearchClause(type="not", child=self.not_expr())
        if self.peek() == "(":
            self.i += 1
            inner = self.or_expr()
            if self.peek() != ")":
                raise self.fail("expected ')'")
            self.i += 1
            return inner
        return self.words()

    def words(self) -> GypsumSearchClause:
        """A run of plain words, all restricted to the field named by a leading ``field:``."""
        if self.peek() in (None, ")", "AND", "OR"):
            raise self.fail("expected a word")
        run_field = None
        clauses: list[GypsumSearchClause] = []
        while (word := self.peek()) is not None and word not in ("(", ")", "AND", "OR", "NOT"):
            prefix = _FIELD_PREFIX.match(word)
            if prefix and clauses:
                break  # a new field starts a new run
            self.i += 1
            if prefix:
                run_field, word = prefix.group(1), prefix.group(2)
                if not word:
                    continue
            clauses.append(define_text_query(word, field=run_field, partial="%" in word))
        if not clauses:
            raise self.fail(f"expected words after '{run_field}:'")
        return clauses[0] if len(clauses) == 1 else GypsumSearchClause(type="and", children=clauses)


def translate_text_query(text: str) -> GypsumSearchClause:
    """Parse a human-readable query into clauses (R's ``translateTextQuery``).

    ``AND``, ``OR`` and ``NOT`` (upper case) are operators and parentheses
    group; adjacent words are ANDed and AND binds tighter than OR. ``field:``
    before a run of words restricts them to that field; a word holding ``%``
    is a partial (``LIKE``) match.

    Raises:
        ValueError: Unbalanced parentheses or a dangling operator, with its position.

    Example:
        >>> q = translate_text_query("(mouse OR rat) AND NOT title:brain%")
        >>> q.type, q.children[0].type, q.children[1].child.field, q.children[1].child.partial
        ('and', 'or', 'title', True)
    """
    return _Parser(text).parse()


#: R 1.2's name for :func:`search_metadata_text` (``searchMetadata``).
search_metadata = search_metadata_text
