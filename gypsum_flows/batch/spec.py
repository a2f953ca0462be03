"""YAML batch specs: the model, a loader that keeps line numbers, and whole-spec validation.

A spec lists the versions to publish; every problem is reported at once, each
naming the file, the line and the field, before anything touches a server::

    defaults: {project: scrnaseq, probation: false, metadata: {schema: bioconductor/v1.json}}
    assets:
      - {asset: zeisel-brain, version: "2024-02-01", directory: data/zeisel}
      - {asset: tasic-brain, version: "2024-02-01", clone: {from: latest, overlay: data/tasic-patch}}

Paths are relative to the spec file. A folder outside the spec's own folder
(an absolute path, ``../..``, a symbolic link that leads out) is refused
unless the caller allows it (``allow_outside=True``, ``--allow-outside``): a
spec from an untrusted source must not publish whatever the machine can read.

A spec is untrusted input: it is at most :data:`MAX_SPEC_BYTES` long and
:data:`MAX_DEPTH` levels deep, YAML anchors and aliases are refused before
anything is expanded, and values quoted back in messages are shortened. The
format's JSON schema ships as ``gypsum_flows/schemas/spec.json``
(:func:`spec_json_schema` builds it).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "data").mkdir()
    >>> _ = (folder / "batch.yaml").write_text(
    ...     "defaults: {project: demo, metadata: null}\\n"
    ...     "assets:\\n  - {asset: a1, version: v1, directory: data}\\n")
    >>> spec = load_spec(folder / "batch.yaml")
    >>> [(j.project, j.asset, j.version, j.origin.endswith("batch.yaml:3")) for j in spec.assets]
    [('demo', 'a1', 'v1', True)]
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError
from pydantic_core import ErrorDetails

from ..errors import GypsumNameError, GypsumSpecError
from ..names import bad_name_reason, bad_path_reason, parse_version_asset_key
from .metadata import MetadataCheck

#: Where a value sits in the YAML document: mapping keys and list indices.
Loc = tuple[str | int, ...]

#: Clone from the asset's latest version unless the spec names one.
LATEST = "latest"
#: The largest spec file read (a spec of 2,000 assets is about 200 KB).
MAX_SPEC_BYTES = 4 * 1024 * 1024
#: The deepest nesting of mappings and lists (a valid spec needs 5 levels).
MAX_DEPTH = 32
#: Values quoted back in messages are cut to this many characters.
MAX_SHOWN = 80
#: Problems listed in a :class:`SpecError` message (``problems`` holds all of them).
MAX_LISTED = 100


class SpecProblem(NamedTuple):
    """One problem in a spec file, located by line (1-based) and dotted field."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SpecError(GypsumSpecError):
    """A spec has problems; ``problems`` lists every one, the message shows them all."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = list(problems)
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        listed = [f"  {p}" for p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            listed.append(f"  ... and {len(problems) - MAX_LISTED} more")
        super().__init__(f"invalid batch spec ({count}):\n" + "\n".join(listed))


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a huge value never floods a message.

    Example:
        >>> shown("x" * 200, limit=10)
        "'xxxxxxxx…"
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# The document model: what a YAML spec may say (also the source of the shipped JSON schema).

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class CloneSpec(BaseModel):
    """Make the new version from an existing one: clone it, overlay a folder, delete paths."""

    model_config = _STRICT

    from_: StrictStr = Field(LATEST, alias="from", description="Version to clone, or 'latest'.")
    project: StrictStr | None = Field(None, description="Project to clone from (default: the asset's own).")
    asset: StrictStr | None = Field(None, description="Asset to clone from (default: the asset itself).")
    overlay: StrictStr | None = Field(None, description="Folder whose files are added or replaced.")
    delete: list[StrictStr] = Field(default_factory=list, description="Paths to remove from the clone.")


class AssetFields(BaseModel):
    """Fields that an asset may set itself or inherit from ``defaults``."""

    model_config = _STRICT

    project: StrictStr | None = Field(None, description="Project to publish into.")
    probation: StrictBool | None = Field(None, description="Upload on probation (default false).")
    deduplicate: StrictBool | None = Field(
        None, description="Turn files identical to the latest version into links (default true)."
    )
    metadata: MetadataCheck | None = Field(
        None, description="Metadata to validate before upload; null disables the check."
    )


class DefaultsSpec(AssetFields):
    """Values every asset inherits unless it sets its own."""


class AssetSpec(AssetFields):
    """One version to publish, from a folder or as a modified clone."""

    asset: StrictStr = Field(description="Asset name.")
    version: StrictStr = Field(description="Version name (quote dates and numbers).")
    directory: StrictStr | None = Field(None, description="Folder holding the version's files.")
    clone: CloneSpec | None = Field(None, description="Build the version from an existing one instead.")
    inputs: list[StrictStr] = Field(
        default_factory=list,
        description="Versions this one was made from, as Prefect asset keys gypsum://PROJECT/ASSET/VERSION "
        "(names escaped: ~XX per UTF-8 byte for other characters than letters, digits, '-', '.', '_'); "
        "recorded as its upstream assets.",
    )


class UploaderSpec(BaseModel):
    """Someone allowed to upload into a declared project."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(description="GitHub login or organisation.")
    trusted: bool = Field(False, description="Skip probation for this uploader's versions.")


class ProjectSpec(BaseModel):
    """A project the batch needs: ``publish`` creates it when it is missing and the token is an admin's."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(description="Project name.")
    owners: list[StrictStr] = Field(min_length=1, description="GitHub logins or organisations owning it.")
    uploaders: list[UploaderSpec] = Field(default_factory=list, description="Who else may upload.")


class SpecDocument(BaseModel):
    """A batch spec file: shared defaults, an optional concurrency limit and the assets."""

    model_config = ConfigDict(extra="forbid", title="gypsum-flows batch spec")

    projects: list[ProjectSpec] = Field(default_factory=list, description="Projects to create if missing.")
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec, description="Values inherited by every asset.")
    concurrency: int | None = Field(None, ge=1, le=64, description="How many assets to publish at once.")
    strict: StrictBool = Field(
        False,
        description="All or nothing: any asset with invalid metadata stops the "
        "whole batch before any upload (default: the other assets are published).",
    )
    fan_out: StrictBool = Field(
        False,
        description="Publish each asset as its own run of the publish-asset "
        "deployment, on any worker of its pool (default: in the batch's process).",
    )
    assets: list[AssetSpec] = Field(min_length=1, description="The versions to publish.")


def spec_json_schema() -> dict[str, Any]:
    """The JSON schema of the spec format (shipped as ``gypsum_flows/schemas/spec.json``).

    Example:
        >>> spec_json_schema()["required"]
        ['assets']
    """
    schema = SpecDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return schema


# ---------------------------------------------------------------------------------------------
# What a loaded spec resolves to: one self-contained job per asset, paths made absolute.


class CloneJob(BaseModel):
    """The resolved clone source and changes of one asset."""

    project: str
    asset: str
    version: str = Field(description="A version name or 'latest'.")
    overlay: str | None = None
    delete: list[str] = Field(default_factory=list)


class AssetJob(BaseModel):
    """One asset of a batch, with defaults applied and absolute paths.

    Example:
        >>> AssetJob(project="p", asset="a", version="v", directory="/data").label
        'p/a/v'
    """

    project: str
    asset: str
    version: str
    directory: str | None = None
    clone: CloneJob | None = None
    probation: bool = False
    deduplicate: bool = True
    metadata: MetadataCheck | None = Field(default_factory=MetadataCheck)
    inputs: list[str] = Field(default_factory=list, description="Asset keys of the versions it was made from.")
    spec_file: str = Field("", description="The spec file that listed this asset.")
    spec_line: int = Field(0, description="The line of the asset in its spec.")
    spec_index: int = Field(0, description="The position of the asset in the spec's list.")

    @property
    def label(self) -> str:
        """``project/asset/version``."""
        return f"{self.project}/{self.asset}/{self.version}"

    @property
    def origin(self) -> str:
        """``file:line`` of the asset in its spec."""
        return f"{self.spec_file}:{self.spec_line}"


class BatchSpec(BaseModel):
    """A validated spec: where it came from, its concurrency limit, whether it fans out, its jobs, and its
    outside folders."""

    path: str
    concurrency: int | None = None
    strict: bool = False
    projects: list[ProjectSpec] = Field(default_factory=list)
    fan_out: bool = False
    assets: list[AssetJob]
    outside: list[tuple[str, str]] = Field(
        default_factory=list, description="(field, folder) of every allowed folder outside the spec's folder."
    )


# ---------------------------------------------------------------------------------------------
# Loading.


def load_spec(path: str | Path, allow_outside: bool = False) -> BatchSpec:
    """Read, validate and resolve a YAML batch spec; raise :class:`SpecError` listing every problem.

    Checks size, nesting, YAML syntax (no anchors or aliases), duplicate keys,
    unknown keys, missing fields, types, names (no ``/``, no leading ``..``),
    folders (inside the spec's folder unless ``allow_outside``), clone
    changes, duplicate project/asset/version triples and local schema files.
    Does not read the metadata files (see :func:`gypsum_flows.batch.validate.validate_spec`).

    Example:
        >>> try:
        ...     load_spec("/nonexistent/spec.yaml")
        ... except SpecError as exc:
        ...     print(exc.problems[0].message.split(":")[0])
        cannot read the spec
    """
    file = str(path)
    data, lines, problems = _parse(_read(file), file)
    try:
        document = SpecDocument.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems + [_pydantic_problem(err, file, lines) for err in exc.errors()]) from None
    resolver = _Resolver(document, Path(path), lines, allow_outside)
    jobs, more = resolver.resolve()
    if problems or more:
        raise SpecError(problems + more)
    return BatchSpec(
        path=str(Path(path).resolve()),
        concurrency=document.concurrency,
        strict=document.strict,
        projects=document.projects,
        fan_out=document.fan_out,
        assets=jobs,
        outside=resolver.outside,
    )


def _read(file: str) -> str:
    """The spec's text; anything but a regular file (a FIFO would block) or a file over the limit is refused."""

    def refuse(message: str) -> SpecError:
        return SpecError([SpecProblem(file, None, "", message)])

    try:
        info = os.stat(file)
        if not stat.S_ISREG(info.st_mode):
            raise refuse("cannot read the spec: not a regular file")
        if info.st_size > MAX_SPEC_BYTES:
            raise refuse(f"the spec is {info.st_size:,} bytes, over the limit of {MAX_SPEC_BYTES:,} bytes")
        with open(file, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)  # the file may have grown since the stat
        if len(raw) > MAX_SPEC_BYTES:
            raise refuse(f"the spec is over the limit of {MAX_SPEC_BYTES:,} bytes")
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise refuse(f"cannot read the spec: {exc}") from None


class _Refused(Exception):
    """Raised while composing: a construct a spec may not use, at ``mark``."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.line = mark.line + 1
        self.message = message


class _PyEvents(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python event parser, where libyaml is missing."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


#: The YAML event parser: libyaml's when installed (4 times faster on a large spec). ``type[Any]``: which of
#: the two classes is the base of ``_Loader`` is known at import time only.
_Events: type[Any] = yaml._yaml.CParser if yaml.__with_libyaml__ else _PyEvents


class _Loader(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver, _Events):
    """A safe loader for untrusted specs: the events of ``_Events``, composed and constructed in Python.

    Dates stay text (a version ``2024-02-01`` stays a string). Anchors and
    aliases are refused as their events arrive, before any node is shared or
    expanded (an alias bomb of a few hundred bytes otherwise grows without
    bound), and so is nesting deeper than :data:`MAX_DEPTH` (no RecursionError).
    """

    def __init__(self, stream: str) -> None:
        _Events.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            kind = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
            raise _Refused(
                event.start_mark,
                f"YAML anchors and aliases are not allowed in a spec "
                f"(found {kind}{event.anchor[:MAX_SHOWN]}); write the values out",
            )
        if self.depth >= MAX_DEPTH:
            raise _Refused(event.start_mark, f"the spec is nested more than {MAX_DEPTH} levels deep (the limit)")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse(text: str, file: str) -> tuple[Any, dict[Loc, int], list[SpecProblem]]:
    """The document's data, the line of every key and list item, and duplicate keys."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError([SpecProblem(file, None, "", "the spec is empty")])
        lines: dict[Loc, int] = {}
        problems: list[SpecProblem] = []
        _index_lines(node, (), lines, problems, file)
        return loader.construct_document(node), lines, problems
    except _Refused as exc:
        raise SpecError([SpecProblem(file, exc.line, "", exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise SpecError([SpecProblem(file, line, "", f"YAML syntax error: {_clip(message)}")]) from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: e.g. an integer of more than 4,300 digits
        raise SpecError([SpecProblem(file, None, "", f"YAML error: {_clip(str(exc))}")]) from None
    finally:
        loader.dispose()


def _clip(text: str, limit: int = 4 * MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters (YAML's messages may quote the document)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[SpecProblem], file: str) -> None:
    """Record the 1-based line of every mapping key and sequence item; flag duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark, "a key must be plain text, not a list or a mapping")
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                field = _field_name(loc + (key,))
                problems.append(SpecProblem(file, line, field, f"duplicate key (first set on line {seen[key]})"))
                continue
            seen[key] = line
            lines[loc + (key,)] = line
            _index_lines(value_node, loc + (key,), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[loc + (index,)] = item.start_mark.line + 1
            _index_lines(item, loc + (index,), lines, problems, file)


def _field_name(loc: Loc) -> str:
    """``("assets", 2, "clone", "from")`` -> ``assets[2].clone.from``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = _clip(str(part), MAX_SHOWN)
            out += f".{name}" if out else name
    return out


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of ``loc``, or of its nearest enclosing key or item."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1 if lines else None


#: Plainer words for pydantic's messages, by error type.
_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown key",
    "string_type": 'should be a string (quote dates and numbers, e.g. "2024-02-01")',
    "bool_type": "should be true or false",
}


def _pydantic_problem(err: ErrorDetails, file: str, lines: dict[Loc, int]) -> SpecProblem:
    loc = tuple(err["loc"])
    message = _MESSAGES.get(err["type"], err["msg"])
    if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
        message += f" (got {shown(err['input'])})"
    return SpecProblem(file, _line_of(loc, lines), _field_name(loc), message)


# ---------------------------------------------------------------------------------------------
# Resolving: defaults, names, folders, duplicates.


class _Resolver:
    """Turns a valid document into jobs, collecting every semantic problem."""

    def __init__(self, document: SpecDocument, path: Path, lines: dict[Loc, int], allow_outside: bool) -> None:
        self.document = document
        self.base = path.resolve().parent
        self.file = str(path)
        self.lines = lines
        self.allow_outside = allow_outside
        self.problems: list[SpecProblem] = []
        #: (field, folder) of every folder outside ``base`` (kept only when allowed).
        self.outside: list[tuple[str, str]] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(SpecProblem(self.file, _line_of(loc, self.lines), _field_name(loc), message))

    def resolve(self) -> tuple[list[AssetJob], list[SpecProblem]]:
        self.check_defaults()
        for index, project in enumerate(self.document.projects):
            self.check_name(("projects", index, "name"), project.name, "project")
        jobs: list[AssetJob] = []
        first_seen: dict[tuple[str, str, str], int] = {}
        for index, entry in enumerate(self.document.assets):
            job = self.resolve_asset(index, entry)
            if job is None:
                continue
            key = (job.project, job.asset, job.version)
            if key in first_seen:
                other = first_seen[key]
                self.problem(
                    ("assets", index),
                    f"duplicate of assets[{other}] (line {_line_of(('assets', other), self.lines)}): "
                    f"both publish {job.label}",
                )
                continue
            first_seen[key] = index
            jobs.append(job)
        return jobs, self.problems

    def check_defaults(self) -> None:
        defaults = self.document.defaults
        if defaults.project is not None:
            self.check_name(("defaults", "project"), defaults.project, "project")
        if defaults.metadata is not None:
            self.check_metadata(("defaults", "metadata"), defaults.metadata)

    def inherited(self, entry: AssetSpec, index: int, field: str) -> tuple[Any, Loc]:
        """The value of ``field`` for an asset and where it was set (the asset, else defaults)."""
        if field in entry.model_fields_set:
            return getattr(entry, field), ("assets", index, field)
        defaults = self.document.defaults
        if field in defaults.model_fields_set:
            return getattr(defaults, field), ("defaults", field)
        return None, ("assets", index)

    def resolve_asset(self, index: int, entry: AssetSpec) -> AssetJob | None:
        before = len(self.problems)
        here: Loc = ("assets", index)
        project, project_loc = self.inherited(entry, index, "project")
        if project is None:
            self.problem(here + ("project",), "required field is missing (set it on the asset or in 'defaults')")
        elif "project" in entry.model_fields_set:
            self.check_name(project_loc, project, "project")
        self.check_name(here + ("asset",), entry.asset, "asset")
        self.check_name(here + ("version",), entry.version, "version")
        directory = self.resolve_source(index, entry, project)
        metadata, metadata_loc = self.inherited(entry, index, "metadata")
        has_metadata = "metadata" in entry.model_fields_set or "metadata" in self.document.defaults.model_fields_set
        if metadata is not None and metadata_loc[0] == "assets":
            self.check_metadata(metadata_loc, metadata)
        self.check_inputs(here + ("inputs",), entry.inputs)
        if len(self.problems) > before:
            return None
        probation, _ = self.inherited(entry, index, "probation")
        deduplicate, _ = self.inherited(entry, index, "deduplicate")
        return AssetJob(
            project=project,
            asset=entry.asset,
            version=entry.version,
            directory=directory,
            clone=self.resolve_clone(entry, project),
            probation=bool(probation),
            deduplicate=True if deduplicate is None else deduplicate,
            metadata=self.absolute_metadata(metadata) if has_metadata else MetadataCheck(),
            inputs=list(entry.inputs),
            spec_file=self.file,
            spec_line=_line_of(here, self.lines) or 0,
            spec_index=index,
        )

    def resolve_source(self, index: int, entry: AssetSpec, project: str | None) -> str | None:
        """Check ``directory`` xor ``clone``; return the absolute folder when given."""
        here: Loc = ("assets", index)
        if entry.directory is not None and entry.clone is not None:
            self.problem(here + ("clone",), "set either 'directory' or 'clone', not both")
        elif entry.directory is None and entry.clone is None:
            self.problem(here, "needs either 'directory' (a folder to upload) or 'clone' (a version to modify)")
        if entry.directory is not None:
            return self.existing_folder(here + ("directory",), entry.directory)
        if entry.clone is not None:
            self.check_clone(here + ("clone",), entry.clone)
        return None

    def check_clone(self, loc: Loc, clone: CloneSpec) -> None:
        for field, kind in (("project", "project"), ("asset", "asset")):
            value = getattr(clone, field)
            if value is not None:
                self.check_name(loc + (field,), value, kind)
        if clone.from_ != LATEST:
            self.check_name(loc + ("from",), clone.from_, "version")
        if clone.overlay is not None:
            self.existing_folder(loc + ("overlay",), clone.overlay)
        for position, path in enumerate(clone.delete):
            reason = bad_path_reason(path)
            if reason:
                reason = reason.replace("'files.path'", "path")
                self.problem(loc + ("delete", position), f"{reason} (got {shown(path)})")

    def resolve_clone(self, entry: AssetSpec, project: str) -> CloneJob | None:
        clone = entry.clone
        if clone is None:
            return None
        return CloneJob(
            project=clone.project or project,
            asset=clone.asset or entry.asset,
            version=clone.from_,
            overlay=str(self.base / clone.overlay) if clone.overlay else None,
            delete=list(clone.delete),
        )

    def check_inputs(self, loc: Loc, inputs: list[str]) -> None:
        for position, key in enumerate(inputs):
            try:
                parse_version_asset_key(key)
            except GypsumNameError as exc:
                self.problem(loc + (position,), str(exc))

    def check_name(self, loc: Loc, name: str, kind: str) -> None:
        reason = bad_name_reason(name, kind)
        if reason:
            self.problem(loc, f"{reason} (got {shown(name)})")

    def existing_folder(self, loc: Loc, value: str) -> str:
        folder = self.base / value
        try:
            is_folder = stat.S_ISDIR(os.stat(folder).st_mode)
        except FileNotFoundError:
            self.problem(loc, f"folder not found: {_clip(str(folder))}")
        except OSError as exc:  # a name too long, a loop of links, no permission
            self.problem(loc, f"cannot use folder {_clip(str(folder))}: {exc.strerror or type(exc).__name__}")
        else:
            if is_folder:
                self.check_inside(loc, folder)
            else:
                self.problem(loc, f"not a folder: {_clip(str(folder))}")
        return str(folder)

    def check_inside(self, loc: Loc, folder: Path) -> None:
        """Record a folder that leads out of the spec's folder; without ``allow_outside`` it is a problem."""
        real = Path(os.path.realpath(folder))
        if real.is_relative_to(self.base):
            return
        if not self.allow_outside:
            shown_real = "" if real == folder else f" (it leads to {_clip(str(real))})"
            self.problem(
                loc,
                f"folder {_clip(str(folder))}{shown_real} is outside the spec's folder {self.base}; "
                "allow it with --allow-outside (allow_outside=True in Python and flows)",
            )
        else:
            self.outside.append((_field_name(loc), str(real)))

    def check_metadata(self, loc: Loc, metadata: MetadataCheck) -> None:
        if metadata.schema_file is None:
            return
        schema = self.base / metadata.schema_file
        try:
            json.loads(schema.read_text(encoding="utf-8"))
        except OSError as exc:
            self.problem(
                loc + ("schema_file",),
                f"cannot read schema file {_clip(str(schema))}: {exc.strerror or type(exc).__name__}",
            )
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.problem(loc + ("schema_file",), f"schema file {_clip(str(schema))} is not JSON: {exc}")

    def absolute_metadata(self, metadata: MetadataCheck | None) -> MetadataCheck | None:
        if metadata is None or metadata.schema_file is None:
            return metadata
        return metadata.model_copy(update={"schema_file": str(self.base / metadata.schema_file)})
