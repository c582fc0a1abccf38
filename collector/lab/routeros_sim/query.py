"""API `?` queries: a small stack machine evaluated against each row of a print.

`?name` has the property; `?-name` lacks it; `?name=x` / `?=name=x` equals; `?<name=x` and
`?>name=x` compare (as numbers when both are). `?#` applies operators to the stack: `|` or,
`&` and, `!` not, `.` duplicate the top. What is left on the stack is and-ed together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

Row = Mapping[str, str]
Test = Callable[[Row], bool]


class QueryError(ValueError):
    """A query word the router would not accept."""


def _compare(op: str, name: str, value: str) -> Test:
    def test(row: Row) -> bool:
        if name not in row:
            return False
        have = row[name]
        if op == "=":
            return have == value
        try:
            a, b = float(have), float(value)
            return a < b if op == "<" else a > b
        except ValueError:
            return have < value if op == "<" else have > value

    return test


def _word(word: str) -> Test:
    body = word[1:]
    if body.startswith(("=", "<", ">")):
        op, rest = body[0], body[1:]
        name, sep, value = rest.partition("=")
        if not sep or not name:
            raise QueryError(f"bad query word {word!r}")
        return _compare(op, name, value)
    if body.startswith("-"):
        name = body[1:]
        return lambda row: name not in row
    name, sep, value = body.partition("=")
    if not name:
        raise QueryError(f"bad query word {word!r}")
    if sep:
        return _compare("=", name, value)
    return lambda row: name in row


def compile_query(words: Sequence[str]) -> Callable[[Row], bool] | None:
    """Build a row filter from the request's `?` words (None when there are none)."""
    if not words:
        return None
    program: list[Test | str] = []
    for word in words:
        if word.startswith("?#"):
            ops = word[2:]
            if not ops or any(c not in "|&!." for c in ops):
                raise QueryError(f"unsupported query operation {word!r}")
            program.extend(ops)
        else:
            program.append(_word(word))

    def run(row: Row) -> bool:
        stack: list[bool] = []
        for step in program:
            if not isinstance(step, str):
                stack.append(step(row))
                continue
            if step == "!":
                if not stack:
                    raise QueryError("query '!' on an empty stack")
                stack.append(not stack.pop())
            elif step == ".":
                if not stack:
                    raise QueryError("query '.' on an empty stack")
                stack.append(stack[-1])
            else:
                if len(stack) < 2:
                    raise QueryError(f"query {step!r} needs two values")
                b, a = stack.pop(), stack.pop()
                stack.append((a or b) if step == "|" else (a and b))
        return all(stack)

    return run
