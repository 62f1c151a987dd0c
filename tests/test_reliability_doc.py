"""docs/reliability.md names, for each guarantee, the tests that prove it: every test it names
exists (file and function), and every guarantee row names at least one."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO

DOC = REPO / "docs" / "reliability.md"
# `tests/file.py::name`, `tests/file.py` (a whole file), `::name` (in the file named last),
# `test_name` in backticks (in the file named last, e.g. "tests/x.py (`test_a`, `test_b`)").
REFERENCE = re.compile(r"tests/([\w/]+\.py)(?:::(\w+))?|::(\w+)|`(test_\w+)`")
# A row's proof cell that names no file itself.
NAMES_NO_FILE = ("same test", "the crash tests above")


def functions_in(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    }


def references(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, test file, test name or None for the whole file), in order."""
    found, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            current = None  # a section names its own files
        for match in REFERENCE.finditer(line):
            path, name, continued, listed = match.groups()
            if path is not None:
                current = path
                found.append((number, path, name))
            else:
                assert current is not None, f"docs/reliability.md:{number}: {match.group(0)} follows no test file"
                found.append((number, current, continued or listed))
    return found


def test_every_test_the_reliability_doc_names_exists():
    text = DOC.read_text(encoding="utf-8")
    found = references(text)
    assert len(found) > 100  # the parser sees the doc's references (not a vacuous pass)
    missing = []
    for number, path, name in found:
        file = REPO / "tests" / path
        if not file.is_file():
            missing.append(f"line {number}: tests/{path} does not exist")
        elif name is not None and path.startswith("test_") and name not in functions_in(file):
            missing.append(f"line {number}: tests/{path}::{name} is no test function")
    assert missing == []


def test_every_guarantee_row_names_a_test():
    rows = [
        line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and not line.startswith(("| guarantee |", "| # |"))
    ]
    assert len(rows) > 40
    unproved = [
        row[:80]
        for row in rows
        if not (REFERENCE.search(row.rsplit("|", 2)[-2]) or any(s in row for s in NAMES_NO_FILE))
    ]
    assert unproved == []


def test_the_parser_catches_a_missing_test():
    """The checks above can fail: a made-up name is not found in its file."""
    ((number, path, name),) = references("x `tests/test_reliability_doc.py::test_made_up` y")
    assert (path, name) == ("test_reliability_doc.py", "test_made_up")
    assert name not in functions_in(REPO / "tests" / path)
