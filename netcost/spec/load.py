"""Safe YAML loading that remembers where every value came from.

Mappings load as :class:`LocDict` and sequences as :class:`LocList`; both keep the
YAML marks of their own start and of each value, so later validation can point at
``file:line:col``. Only YAML's safe types are constructed (``yaml.SafeLoader``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from netcost.errors import Location, SpecError


class LocDict(dict):
    """A mapping with ``marks[key]`` = (line, col) of each value and ``key_marks[key]`` of
    each key, 1-based."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.mark: tuple[int, int] | None = None
        self.marks: dict[Any, tuple[int, int]] = {}
        self.key_marks: dict[Any, tuple[int, int]] = {}
        self.source: str | None = None  # the file it was loaded from (specs may extend others)


class LocList(list):
    """A sequence with ``marks[i]`` = (line, col) of each item, 1-based."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.mark: tuple[int, int] | None = None
        self.marks: list[tuple[int, int]] = []
        self.source: str | None = None


def _pos(mark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocDict:
    loader.flatten_mapping(node)
    result = LocDict()
    result.mark, result.marks, result.key_marks = _pos(node.start_mark), {}, {}
    result.source = loader.source
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) or key is None:
            line, col = _pos(key_node.start_mark)
            raise SpecError(f"mapping keys must be plain names, got {key!r}", Location(loader.source, line, col))
        if key in result:
            line, col = _pos(key_node.start_mark)
            raise SpecError(f"duplicate key {key!r}", Location(loader.source, line, col))
        result[key] = loader.construct_object(value_node, deep=True)
        result.marks[key] = _pos(value_node.start_mark)
        result.key_marks[key] = _pos(key_node.start_mark)
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocList:
    result = LocList(loader.construct_object(child, deep=True) for child in node.value)
    result.mark, result.marks = _pos(node.start_mark), [_pos(child.start_mark) for child in node.value]
    result.source = loader.source
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(text: str, source: str = "<spec>") -> Any:
    """Parse YAML text; syntax errors become :class:`SpecError` with their location."""
    loader = _Loader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark, problem = exc.problem_mark, exc.problem or ""
        if exc.context_mark and (mark is None or "<stream end>" in problem):
            # an unclosed bracket is only noticed at the end of the file: point at where it opened
            end = f" at line {mark.line + 1}" if mark else ""
            mark, problem = exc.context_mark, f"{exc.context} that is never closed ({problem}{end})"
        elif exc.context:
            problem = f"{problem} ({exc.context} at line {exc.context_mark.line + 1})"
        where = Location(source, *_pos(mark)) if mark else Location(source)
        raise SpecError(f"invalid YAML: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Location(source)) from None
    finally:
        loader.dispose()


def load_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror}", Location(str(path))) from None
    except UnicodeDecodeError:
        raise SpecError("spec is not UTF-8 text", Location(str(path))) from None
    return load_yaml(text, str(path))
