"""A user's task: the task file (YAML) and its data file, read into questions.

The task file names a data file and how to read it (input template, target column, id, category,
split) and a scorer with its options (``scorers.py``). A data file given on its own (``.jsonl``,
``.json``, ``.csv``, ``.parquet``) is a task with columns ``input`` and ``target``, scored ``exact``.

Local files are read with pandas (pyarrow for parquet): one vectorised read of the whole table,
little memory per row, and its reader errors name the line; ``datasets`` is imported only for
``hf:OWNER/NAME[:CONFIG][@SPLIT]`` names (it adds seconds of import time and a cache folder, and
without the network it fails: one line). Every problem is a one-line ``UserError`` naming the file,
and the row and column where there is one.
"""

from __future__ import annotations

import hashlib
import json
import math
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.data import jsonl_objects
from archon_cli.config.files import describe_validation_error, read_config_file
from archon_cli.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

TASK_SUFFIXES = (".yaml", ".yml")
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
HUB_PREFIX = "hf:"
SCORERS = ("exact", "includes", "regex", "number", "choice", "math", "code", "judge", "python")
DEFAULT_DEV = 0.2  # as the built-in benchmarks (benchmarks/base.py DEV_FRACTION)
_ROW_BASE = 1  # rows are numbered from 1 in messages (a CSV's header is not a row)


class FractionSplit(BaseModel):
    """``{dev: 0.3, seed: 0}``: that share of the rows is dev, chosen by a seeded hash of their id
    (no seed: the run's ``--seed``)."""

    model_config = ConfigDict(extra="forbid")
    dev: float = Field(gt=0, lt=1)
    seed: int | None = None


class ColumnSplit(BaseModel):
    """``{column: split}``: each row says ``dev`` or ``test`` in that column."""

    model_config = ConfigDict(extra="forbid")
    column: str


class TaskFile(BaseModel):
    """The task file's keys. The scorer's options sit beside ``scorer``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = None
    data: str = Field(min_length=1)
    input: str = Field(min_length=1)
    target: str | None = None
    id: str | None = None
    category: str | None = None
    system: str | None = None
    instruction: str = ""
    examples: int = Field(default=0, ge=0, le=64)
    scorer: str = "exact"
    split: FractionSplit | ColumnSplit | None = None
    # scorer options
    pattern: str | None = None  # regex
    tolerance: float = Field(default=0.0, ge=0)  # number
    options: str | None = None  # choice: the column holding the options
    rubric: str | None = None  # judge
    judge: str | None = None  # judge: the judge model (else --judge, else the embedded one)
    grade: Literal["pass-fail", "1-10"] = "pass-fail"  # judge
    function: str | None = None  # python: module:function or file.py:function
    timeout: float = Field(default=3.0, gt=0, le=60)  # code: seconds per run


@dataclass
class Task:
    """A task read and checked: its questions in file order (reference, category, scorer meta),
    the split, and the hashes of its files."""

    path: Path  # the task file (the data file for a bare data file)
    spec: TaskFile
    data_source: str  # the data file's path, or the hub name
    frame: pd.DataFrame
    questions: list[Question]
    task_sha256: str | None
    data_sha256: str
    row_of: dict[str, int] = field(default_factory=dict)  # question id -> row index (python scorer)
    split_of: dict[str, str] | None = None  # {column: split}: question id -> dev/test

    @property
    def name(self) -> str:
        return self.spec.name or self.path.stem

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def row(self, question_id: str) -> dict[str, Any]:
        """The data row of a question as plain Python values (for a ``python`` scorer)."""
        values = self.frame.iloc[self.row_of[question_id]].to_dict()
        return {str(k): plain(v) for k, v in values.items()}

    def identity(self) -> dict[str, Any]:
        """What a run folder records to know its task again: the hashes of the task file and the
        data (where they are is in ``files``: a task moved elsewhere is the same task)."""
        return {"task": {"name": self.name, "task_sha256": self.task_sha256, "data_sha256": self.data_sha256}}

    def files(self) -> dict[str, Any]:
        return {"task_file": None if self.task_sha256 is None else str(self.path), "data": self.data_source}


# -- what a benchmark name is ----------------------------------------------------------------------


def is_task_name(name: str) -> bool:
    """Whether a ``--benchmark`` value names a task or data file rather than a built-in benchmark."""
    lowered = name.lower()
    return lowered.endswith(TASK_SUFFIXES + DATA_SUFFIXES) or "/" in name or "\\" in name or Path(name).is_file()


# -- reading ---------------------------------------------------------------------------------------


def read_task_file(path: Path) -> TaskFile:
    """The task file's keys, checked (unknown keys, wrong types, an unknown scorer: one line)."""
    raw = read_config_file(path, "task file")
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a task file is a mapping of keys (data, input, target, scorer, ...)")
    if isinstance(raw.get("scorer"), dict):  # scorer: {name: regex, pattern: ...}
        options = dict(raw.pop("scorer"))
        if "name" not in options:
            raise UserError(f"{path}: scorer: give its name (scorer: {{name: NAME, ...}})")
        raw = {**raw, **{k: v for k, v in options.items() if k != "name"}, "scorer": options["name"]}
    try:
        spec = TaskFile.model_validate(raw)
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc, str(path))) from None
    if spec.scorer not in SCORERS:
        raise UserError(f"{path}: unknown scorer {spec.scorer!r} (known: {', '.join(SCORERS)})")
    return spec


def bare_data_spec(path: Path) -> TaskFile:
    """A data file given on its own: columns ``input`` and ``target``, scored ``exact``."""
    return TaskFile(data=str(path), input="input", target="target", scorer="exact")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def data_location(spec: TaskFile, task_path: Path, bare: bool) -> Path | str:
    """The data file (relative to the task file), or the hub name for ``hf:`` data."""
    if spec.data.startswith(HUB_PREFIX):
        return spec.data
    path = Path(spec.data)
    if not bare and not path.is_absolute():
        path = task_path.parent / path
    return path


def read_table(path: Path, where: str) -> pd.DataFrame:
    """A local data file as a table; an unknown format, a missing, unreadable, torn or empty file
    is a one-line UserError naming ``where`` (the file, and the task file that names it)."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise UserError(f"{where}: unknown data format {suffix or '(no suffix)'!r} (expected .jsonl, .json, .csv or .parquet)")
    if not path.exists():
        raise UserError(f"{where}: data file not found")
    if path.is_dir():
        raise UserError(f"{where}: is a directory, expected a data file")
    if path.stat().st_size == 0:
        raise UserError(f"{where}: the data file is empty")
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".jsonl":
            frame = _read_jsonl(path, where)
        else:
            frame = _read_json(path, where)
    except UserError:
        raise
    except pd.errors.EmptyDataError:
        raise UserError(f"{where}: the data file has no rows") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except Exception as exc:  # pandas' and pyarrow's reader errors: a torn or unreadable file
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(f"{where}: cannot read the {suffix[1:].upper()} file ({reason})") from None
    if len(frame) == 0:
        raise UserError(f"{where}: the data file has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_jsonl(path: Path, where: str) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_json(path, lines=True, dtype=False, encoding="utf-8")
    except ValueError:
        _bad_json_line(path, where)  # names the line pandas could not read
        raise
    return frame


def _bad_json_line(path: Path, where: str) -> None:
    """Find the first line of a JSONL file that is not a JSON object, and say which."""
    for _ in jsonl_objects(path, f"{where}:"):
        pass


def _read_json(path: Path, where: str) -> pd.DataFrame:
    import pandas as pd

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        data = list(data.values())  # an object keyed by id (MixEval's layout)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserError(f"{where}: a .json data file holds a list of objects (or an object of objects)")
    return pd.DataFrame.from_records(data)


def read_hub(name: str, where: str) -> tuple[pd.DataFrame, str]:
    """``hf:OWNER/NAME[:CONFIG][@SPLIT]`` through ``datasets``; its table and fingerprint."""
    spec = name[len(HUB_PREFIX) :]
    spec, _, split = spec.partition("@")
    repo, _, config = spec.partition(":")
    if not repo:
        raise UserError(f"{where}: data {name!r}: expected hf:OWNER/NAME[:CONFIG][@SPLIT]")
    try:
        from datasets import load_dataset

        dataset = load_dataset(repo, config or None, split=split or "train")
        frame = dataset.to_pandas()
    except Exception as exc:
        raise UserError(
            f"{where}: could not load {repo} from the Hugging Face hub ({type(exc).__name__}); "
            "give a local data file instead"
        ) from None
    fingerprint = str(getattr(dataset, "_fingerprint", "") or hashlib.sha256(name.encode()).hexdigest())
    if len(frame) == 0:
        raise UserError(f"{where}: {name} has no rows")
    return frame, fingerprint


# -- rows into questions --------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A table cell as a plain Python value: numpy scalars and arrays unwrapped, NaN as None."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)


def as_text(value: Any) -> str:
    """A cell as text in a prompt: an integral float without its ".0" (a CSV column with gaps)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def template_columns(template: str, where: str, key: str) -> list[str] | None:
    """The columns a template names (``{col}``), or None when it names none (a plain column name
    or literal text). A field with an index, attribute, conversion or format is an error."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise UserError(f"{where}: {key}: not a valid template ({exc}); write {{{{ and }}}} for braces") from None
    if not fields:
        return None
    for f in fields:
        if not f or any(c in f for c in ".[]!:"):
            raise UserError(f"{where}: {key}: {{{f}}} is not a column name (write {{{{ and }}}} for braces)")
    return fields


def check_columns(names: list[str], columns: list[str], where: str, key: str) -> None:
    for name in names:
        if name not in columns:
            raise UserError(f"{where}: {key} names column {name!r}, which the data lacks (columns: {', '.join(columns)})")


def where_row(source: str, index: int, column: str | None = None) -> str:
    return f"{source} row {index + _ROW_BASE}" + (f" column {column!r}" if column else "")
