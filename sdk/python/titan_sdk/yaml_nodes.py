# YAML with line numbers, for pipeline files: load() turns a document into Node trees that remember the
# line each value (and each mapping key) starts on, and Fields reads one mapping with typed getters whose
# errors are PipelineErrors "<file>:<line>: <what>". Only safe YAML tags are constructed.
import math
from typing import Any, Callable, Dict, List, Optional, Sequence

import yaml

from .errors import PipelineError

_MAX_DEPTH = 64  # deeper nesting (or an alias that contains itself) is refused
_MAX_INT64 = 2 ** 63 - 1
_MIN_INT64 = -2 ** 63


class Node:
    """One YAML value: a scalar (str, int, float, bool, None, ...), a list of Nodes, or a dict of Nodes.
    `line` is 1-based; for a dict, `key_lines` holds the line of each key."""

    __slots__ = ("value", "line", "key_lines")

    def __init__(self, value: Any, line: int, key_lines: Optional[Dict[str, int]] = None):
        self.value = value
        self.line = line
        self.key_lines = key_lines or {}


def load(text: str, file: str) -> Node:
    """The single document in `text`. Raises PipelineError for a YAML syntax error or an empty file."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PipelineError(file, 1, "the file is empty; a pipeline needs 'name' and 'jobs'")
        return _convert(loader, root, file, 0)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise PipelineError(file, mark.line + 1 if mark else 1, "invalid YAML: %s" % (e.problem or e)) from None
    except yaml.YAMLError as e:
        raise PipelineError(file, 1, "invalid YAML: %s" % e) from None
    finally:
        loader.dispose()


def _convert(loader: yaml.SafeLoader, node: yaml.Node, file: str, depth: int) -> Node:
    line = node.start_mark.line + 1
    if depth > _MAX_DEPTH:
        raise PipelineError(file, line, "the YAML nests deeper than %d levels" % _MAX_DEPTH)
    if isinstance(node, yaml.SequenceNode):
        return Node([_convert(loader, item, file, depth + 1) for item in node.value], line)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves "<<: *anchor" merge keys
        out: Dict[str, Node] = {}
        key_lines: Dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise PipelineError(file, key_line, "keys must be plain words; got %r" % (key,))
            if key in out:
                raise PipelineError(file, key_line, "duplicate key '%s' (first on line %d)" % (key, key_lines[key]))
            out[key] = _convert(loader, value_node, file, depth + 1)
            key_lines[key] = key_line
        return Node(out, line, key_lines)
    return Node(loader.construct_object(node), line)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Fields:
    """Typed reads of one mapping Node. `what` names it in messages ("job 'EXTRACT'", "the top level")."""

    def __init__(self, node: Node, file: str, what: str):
        self.node, self.file, self.what = node, file, what
        self.values: Dict[str, Node] = node.value

    def fail(self, line: int, message: str) -> PipelineError:
        return PipelineError(self.file, line, message)

    def check_keys(self, known: Sequence[str]) -> None:
        for key in self.values:
            if key not in known:
                raise self.fail(self.node.key_lines[key], "unknown key '%s' in %s (known: %s)"
                                % (key, self.what, ", ".join(known)))

    def has(self, key: str) -> bool:
        return key in self.values

    def line(self, key: str) -> int:
        return self.values[key].line if key in self.values else self.node.line

    def require(self, key: str, hint: str) -> None:
        if key not in self.values or self.values[key].value is None:
            raise self.fail(self.node.line, "%s needs '%s' (%s)" % (self.what, key, hint))

    def _get(self, key: str, ok: Callable[[Any], bool], kind: str) -> Any:
        v = self.values[key]
        if not ok(v.value):
            raise self.fail(v.line, "'%s' must be %s in %s" % (key, kind, self.what))
        return v.value

    def text(self, key: str) -> str:
        return self._get(key, lambda v: isinstance(v, str), "a string")

    def integer(self, key: str) -> int:
        """A 64-bit signed integer (what the wire carries; the C++ parser's range)."""
        v = self._get(key, _is_int, "an integer")
        if not _MIN_INT64 <= v <= _MAX_INT64:
            raise self.fail(self.values[key].line, "'%s' is out of range in %s (at most %d)"
                            % (key, self.what, _MAX_INT64))
        return v

    def milliseconds(self, key: str) -> int:
        """Seconds >= 0 as milliseconds: an integer times 1000, or a float (1.5, 1:30.5) times 1000 rounded
        to the nearest millisecond, halves up: floor(x * 1000 + 0.5), as the C++ parser computes it."""
        v = self._get(key, lambda x: _is_int(x) or isinstance(x, float), "a number of seconds")
        line = self.values[key].line
        if _is_int(v):
            v = self.integer(key)
        if not v >= 0:  # NaN too
            raise self.fail(line, "'%s' must be >= 0 seconds in %s" % (key, self.what))
        if _is_int(v):
            if v > _MAX_INT64 // 1000:
                raise self.fail(line, "'%s' is too many seconds in %s" % (key, self.what))
            return v * 1000
        half_up = v * 1000.0 + 0.5
        if half_up >= 9223372036854775808.0:  # 2**63, infinity too
            raise self.fail(line, "'%s' is too many seconds in %s" % (key, self.what))
        return int(math.floor(half_up))

    def flag(self, key: str) -> bool:
        return self._get(key, lambda v: isinstance(v, bool), "true or false")

    def text_list(self, key: str) -> List[str]:
        items = self._get(key, lambda v: isinstance(v, list), "a list of strings")
        for item in items:
            if not isinstance(item.value, str):
                raise self.fail(item.line, "'%s' must be a list of strings in %s; quote %r"
                                % (key, self.what, item.value))
        return [item.value for item in items]

    def text_map(self, key: str) -> List[str]:
        """A map of strings as "NAME=value" entries, in file order."""
        entries = self._get(key, lambda v: isinstance(v, dict), "a map of strings")
        out = []
        for name, item in entries.items():
            if not isinstance(item.value, str):
                raise self.fail(item.line, "'%s' must be a map of strings in %s; quote the value of %s, "
                                "e.g. %s: \"%s\"" % (key, self.what, name, name, item.value))
            if not name or "=" in name:
                raise self.fail(item.line, "'%s' in %s: %r is not a variable name" % (key, self.what, name))
            out.append("%s=%s" % (name, item.value))
        return out
