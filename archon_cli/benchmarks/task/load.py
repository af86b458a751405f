"""A task file (or a bare data file) read into a ``Task``: the table, the questions, the split.

Rows are read column by column (``tolist``) and each question is made once; 100,000 rows load and
split in well under the three seconds the README promises (bench/bench_task_load.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.mixeval import format_options
from archon_cli.benchmarks.task.file import (
    DATA_SUFFIXES,
    HUB_PREFIX,
    TASK_SUFFIXES,
    ColumnSplit,
    Task,
    TaskFile,
    as_text,
    bare_data_spec,
    check_columns,
    data_location,
    file_sha256,
    missing,
    plain,
    read_hub,
    read_table,
    read_task_file,
    template_columns,
    where_row,
)
from archon_cli.benchmarks.task.scorers import Choice, RowProblem, Scorer, make_scorer
from archon_cli.errors import UserError


def load_task(path: Path, problems: list[str] | None = None) -> tuple[Task, Scorer]:
    """Read and check a task file or a data file: every problem is a one-line UserError. With
    ``problems`` (``archon check``), the rows' problems are collected there instead (up to
    ``MAX_PROBLEMS``) and those rows skipped; a problem with the whole file still raises."""
    suffix = path.suffix.lower()
    bare = suffix in DATA_SUFFIXES
    if not bare and suffix not in TASK_SUFFIXES:
        raise UserError(
            f"{path}: unknown format {suffix or '(no suffix)'!r}: a task file is .yaml or .yml, "
            "a data file .jsonl, .json, .csv or .parquet"
        )
    if not bare and not path.exists():
        raise UserError(f"{path}: task file not found")
    spec = bare_data_spec(path) if bare else read_task_file(path)
    task_where = str(path)
    scorer = make_scorer(spec, task_where, path.parent)
    location = data_location(spec, path, bare)
    if isinstance(location, str):
        frame, data_hash = read_hub(location, f"{task_where}: data {location}")
        source = location
    else:
        where = str(location) if bare else f"{task_where}: data {location}"
        frame = read_table(location, where)
        data_hash = file_sha256(location)
        source = str(location)
    task = Task(
        path=path,
        spec=spec,
        data_source=source,
        frame=frame,
        questions=[],
        task_sha256=None if bare else file_sha256(path),
        data_sha256=data_hash,
    )
    build_questions(task, scorer, problems)
    return task, scorer


def _rendered(spec_value: str, key: str, columns: list[str], where: str) -> tuple[str | None, str | None]:
    """(column, template) for an ``input``/``system``/``instruction`` value: a column's name, or
    a template over columns (None, template); ``(None, None)``-like literal text is a template
    without fields."""
    if spec_value in columns:
        return spec_value, None
    fields = template_columns(spec_value, where, key)
    if fields is not None:
        check_columns(fields, columns, where, key)
    return None, spec_value


MAX_PROBLEMS = 50


class _Skip(Exception):
    """A row with a problem, collected for ``archon check``."""


def build_questions(task: Task, scorer: Scorer, problems: list[str] | None = None) -> None:
    """Fill ``task.questions`` (file order), its ids' rows and the column split."""

    def fail(message: str) -> NoReturn:
        if problems is None:
            raise UserError(message)
        if len(problems) < MAX_PROBLEMS:
            problems.append(message)
        raise _Skip

    spec, frame = task.spec, task.frame
    columns = task.columns
    where = str(task.path)
    source = task.data_source
    input_column, input_template = _rendered(spec.input, "input", columns, where)
    input_fields = template_columns(input_template, where, "input") if input_template is not None else None
    if input_column is None and input_fields is None:
        raise UserError(
            f"{where}: input {spec.input!r} is neither a column ({', '.join(columns)}) nor a template over them"
        )
    system_template = None
    if spec.system is not None:
        system_column, system_template = _rendered(spec.system, "system", columns, where)
        if system_column is not None:  # a column's name: each row's own system prompt
            system_template = "{" + system_column + "}"
    system_fields = template_columns(system_template, where, "system") if system_template else None
    if spec.instruction and (fields := template_columns(spec.instruction, where, "instruction")):
        raise UserError(f"{where}: instruction is the same for every row: it cannot name a column ({{{fields[0]}}})")
    for key in ("target", "id", "category", "options"):
        value = getattr(spec, key)
        if value is not None:
            check_columns([value], columns, where, key)
    if spec.target is None and scorer.needs_target:
        raise UserError(f"{where}: scorer {scorer.name} needs a target column (target: COLUMN)")
    if isinstance(spec.split, ColumnSplit):
        check_columns([spec.split.column], columns, where, "split")
    if spec.examples and spec.target is None:
        raise UserError(f"{where}: examples: few-shot examples need a target column to show answers")
    if spec.examples and scorer.name == "code":
        raise UserError(f"{where}: examples: a code task's target is test code, not an answer to show")

    n = len(frame)
    cells: dict[str, list[Any]] = {}

    def column(name: str) -> list[Any]:
        """A column's cells as plain Python values (read once)."""
        if name not in cells:
            series = frame[name]
            values = series.tolist()
            if series.dtype.kind not in "iub":  # ints and bools are plain already
                values = [v if isinstance(v, str) else plain(v) for v in values]
            cells[name] = values
        return cells[name]

    ids = [as_text(v) for v in column(spec.id)] if spec.id else [str(i + 1) for i in range(n)]
    targets = column(spec.target) if spec.target else [None] * n
    categories = [as_text(v) for v in column(spec.category)] if spec.category else [""] * n
    inputs = column(input_column) if input_column else None
    split_values = column(spec.split.column) if isinstance(spec.split, ColumnSplit) else None
    row_columns = sorted(set(input_fields or []) | set(system_fields or []) | ({spec.options} if spec.options else set()))
    appends_options = isinstance(scorer, Choice) and spec.options not in (input_fields or [])
    row_lists = [(c, column(c)) for c in row_columns]
    options_column = spec.options

    def question(index: int) -> Question:
        qid = ids[index]
        if spec.id is not None:
            if missing(qid):
                fail(f"{where_row(source, index, spec.id)}: empty id")
            if qid in row_of:
                fail(f"{where_row(source, index, spec.id)}: duplicate id {qid!r} (also row {row_of[qid] + 1})")
        row = {c: cells_of[index] for c, cells_of in row_lists}
        target = targets[index]
        if spec.target is not None and missing(target):
            fail(f"{where_row(source, index, spec.target)}: no target")
        try:
            reference, meta = scorer.reference(target, row) if spec.target is not None else (None, {})
        except RowProblem as exc:
            fail(f"{where_row(source, index, spec.options if exc.option else spec.target)}: {exc}")
        if inputs is not None:
            text = as_text(inputs[index])
        else:
            assert input_template is not None
            text = input_template.format_map(
                {k: as_text(v) if k != options_column else _cell_text(k, v, options_column, meta) for k, v in row.items()}
            )
        if appends_options:
            text = f"{text}\n{format_options(meta['options'])}"
        if not text.strip():
            fail(f"{where_row(source, index, input_column)}: the input is empty")
        system = None
        if system_template is not None:
            system = system_template.format_map({k: as_text(v) for k, v in row.items()})
        if split_values is not None:
            part = as_text(split_values[index]).strip().lower()
            if part not in ("dev", "test"):
                assert isinstance(spec.split, ColumnSplit)
                fail(f"{where_row(source, index, spec.split.column)}: split {part!r} is not dev or test")
            split_of[qid] = part
        meta["row"] = index
        return Question(
            id=qid,
            turns=(text,),
            reference=reference,
            category=categories[index],
            system=system,
            meta=meta,
            instruction=spec.instruction,
        )

    questions: list[Question] = []
    row_of: dict[str, int] = {}
    split_of: dict[str, str] = {}
    for index in range(n):
        try:
            made = question(index)
        except _Skip:
            continue
        questions.append(made)
        row_of[made.id] = index
    task.questions, task.row_of = questions, row_of
    task.split_of = split_of if split_values is not None else None
    if not problems:
        _check_split(task)


def _cell_text(column: str, value: Any, options_column: str | None, meta: dict[str, Any]) -> str:
    """A cell in the input template; the options column renders as lettered lines."""
    if column == options_column and "options" in meta:
        from archon_cli.benchmarks.mixeval import format_options

        return format_options(meta["options"])
    return as_text(value)


def dev_share(spec: TaskFile) -> float:
    from archon_cli.benchmarks.task.file import DEFAULT_DEV, FractionSplit

    return spec.split.dev if isinstance(spec.split, FractionSplit) else DEFAULT_DEV


def _check_split(task: Task) -> None:
    """Neither part of the split may be empty."""
    n = len(task.questions)
    if task.split_of is not None:
        dev = sum(1 for v in task.split_of.values() if v == "dev")
    else:
        import math

        dev = math.ceil(n * dev_share(task.spec))
    for part, size in (("dev", dev), ("test", n - dev)):
        if size == 0:
            raise UserError(f"{task.path}: the split leaves the {part} part empty ({n} rows, {dev} dev)")


def is_data_path(name: str) -> bool:
    return name.startswith(HUB_PREFIX) or Path(name).suffix.lower() in DATA_SUFFIXES
