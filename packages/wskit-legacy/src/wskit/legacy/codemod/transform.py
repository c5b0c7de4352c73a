"""The rewrite of one module from the legacy websockets API to wskit.asyncio.

Every rewrite comes from :data:`wskit.legacy.renames.RENAMES`; what the table
marks unsafe, and what this module cannot prove safe, is left as it was and
reported as a :class:`Finding` with its line and column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

import wskit.asyncio

from ..renames import RENAMES, Kind, Rename, lookup
from .names import LEGACY_MODULES, Binding, Names, dotted

__all__ = ["NEW_MODULE", "SHIM_MODULE", "Finding", "Result", "rewrite_source"]

NEW_MODULE = "wskit.asyncio"
"""Where the migrated code imports from."""

SHIM_MODULE = "wskit.legacy"
"""Where code with findings left imports from, so that it still runs meanwhile."""

_AVAILABLE = frozenset(wskit.asyncio.__all__)

# Legacy object names -> new names, from the table.
_OBJECT_RENAMES = {
    row.legacy: row.new
    for row in RENAMES
    if row.kind in (Kind.CLASS, Kind.EXCEPTION) and row.new is not None
}
_KEYWORDS = {row.legacy: row for row in RENAMES if row.kind is Kind.KEYWORD}
_ATTRIBUTES = {row.legacy: row for row in RENAMES if row.kind is Kind.ATTRIBUTE}
_EXCEPTION_ATTRIBUTES = {
    row.legacy: row for row in RENAMES if row.kind is Kind.EXCEPTION_ATTRIBUTE
}
# Where a comparison needs no parentheses: it binds tighter than these.
_LOOSE_PARENTS = (
    cst.If,
    cst.While,
    cst.Assert,
    cst.BooleanOperation,
    cst.Return,
    cst.Assign,
    cst.AnnAssign,
    cst.Arg,
    cst.IfExp,
    cst.Expr,
    cst.Element,
    cst.Lambda,
)


@dataclasses.dataclass(frozen=True)
class Finding:
    """A legacy spelling that the codemod left for a human.

    Attributes:
        path: The file, as given on the command line.
        line: 1-based line.
        column: 1-based column.
        legacy: The legacy spelling.
        message: Why it was left, and what to do.
    """

    path: str
    line: int
    column: int
    legacy: str
    message: str

    def __str__(self) -> str:
        """``path:line:column: legacy: message``, the format of compilers."""
        return f"{self.path}:{self.line}:{self.column}: {self.legacy}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Result:
    """The outcome of rewriting one module.

    Attributes:
        source: The rewritten source (the input when nothing changed).
        changed: Whether ``source`` differs from the input.
        findings: What was left for a human, in source order.
    """

    source: str
    changed: bool
    findings: tuple[Finding, ...]


class _Rewriter(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (ParentNodeProvider, PositionProvider)

    def __init__(self, names: Names, path: str, target: str) -> None:
        super().__init__()
        self.names = names
        self.path = path
        self.target = target
        self.findings: list[Finding] = []
        self.needs_state = False
        self._made: set[int] = set()
        # Innermost first: (name, whether it holds an InvalidStatusCode).
        self._handlers: list[tuple[str, bool]] = []
        # Local names of imported legacy objects that change with their import.
        self.name_renames = {
            local: _OBJECT_RENAMES[legacy]
            for local, legacy in names.objects.items()
            if legacy in _OBJECT_RENAMES and local not in names.aliased
        }

    # Reporting.

    def report(self, node: cst.CSTNode, legacy: str, message: str) -> None:
        position = self.get_metadata(PositionProvider, node).start
        self.findings.append(
            Finding(self.path, position.line, position.column + 1, legacy, message)
        )

    # Imports.

    def leave_Import(
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import:
        aliases: list[cst.ImportAlias] = []
        for original_alias, alias in zip(
            original_node.names, updated_node.names, strict=True
        ):
            name = dotted(alias.name)
            if name is None or name not in LEGACY_MODULES:
                aliases.append(alias)
                continue
            if alias.asname is None and name.startswith("wskit."):
                self.report(
                    original_alias,
                    name,
                    f"write 'import {name} as websockets' or "
                    f"'import {NEW_MODULE}' by hand",
                )
                aliases.append(alias)
                continue
            local = (
                name.split(".")[0]
                if alias.asname is None
                else cst.ensure_type(alias.asname.name, cst.Name).value
            )
            if any(
                cst.ensure_type(kept.asname.name, cst.Name).value == local
                for kept in aliases
                if kept.asname is not None and dotted(kept.name) == self.target
            ):
                continue  # ``import websockets, websockets.client``: one is enough
            aliases.append(
                alias.with_changes(
                    name=cst.parse_expression(self.target),
                    asname=cst.AsName(name=cst.Name(local)),
                )
            )
        if aliases:
            last = updated_node.names[-1]
            aliases[-1] = aliases[-1].with_changes(comma=last.comma)
        return updated_node.with_changes(names=aliases)

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom:
        if original_node.module is None or original_node.relative:
            return updated_node
        module = dotted(original_node.module)
        if module not in LEGACY_MODULES:
            return updated_node
        if isinstance(original_node.names, cst.ImportStar):
            self.report(original_node, "import *", "import the names you use")
            return updated_node
        missing = []
        for alias in original_node.names:
            name = cst.ensure_type(alias.name, cst.Name).value
            new = _OBJECT_RENAMES.get(name, name)
            if new not in _AVAILABLE:
                missing.append(name)
        if missing:
            self.report(
                original_node,
                f"from {module} import",
                f"{', '.join(missing)}: not in {NEW_MODULE}; "
                "migrate this import by hand (server-side or internal names)",
            )
            return updated_node
        if isinstance(updated_node.names, cst.ImportStar):  # pragma: no cover
            return updated_node
        names = []
        for alias in updated_node.names:
            name = cst.ensure_type(alias.name, cst.Name).value
            legacy = self.names.objects.get(name, name)
            new = _OBJECT_RENAMES.get(legacy, name)
            names.append(alias.with_changes(name=cst.Name(new)))
        return updated_node.with_changes(
            module=cst.parse_expression(self.target),
            names=_sorted_aliases(names, names[-1].comma),
        )

    def leave_Name(
        self, original_node: cst.Name, updated_node: cst.Name
    ) -> cst.BaseExpression:
        new = self.name_renames.get(original_node.value)
        if new is None:
            return updated_node
        parent = self.get_metadata(ParentNodeProvider, original_node)
        if isinstance(parent, cst.Attribute) and parent.attr is original_node:
            return updated_node
        if isinstance(parent, cst.Arg) and parent.keyword is original_node:
            return updated_node
        if isinstance(parent, cst.Param):
            return updated_node
        return updated_node.with_changes(value=new)

    # Exception handlers: ``except InvalidStatusCode as exc`` proves ``exc`` in
    # its body, whatever other handlers bind to the same name.

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            name = cst.ensure_type(node.name.name, cst.Name).value
            is_status = (
                node.type is not None
                and self.names.object_of(node.type) == "InvalidStatusCode"
            )
            self._handlers.append((name, is_status))

    def leave_ExceptHandler(
        self, original_node: cst.ExceptHandler, updated_node: cst.ExceptHandler
    ) -> cst.ExceptHandler:
        if original_node.name is not None:
            self._handlers.pop()
        return updated_node

    def _status_exception(self, node: cst.BaseExpression) -> bool | None:
        if isinstance(node, cst.Name):
            for name, is_status in reversed(self._handlers):
                if name == node.value:
                    return is_status
        return self.names.proven(node, Binding.STATUS_EXCEPTION)

    # Attributes.

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        attr = original_node.attr.value
        parent = self.get_metadata(ParentNodeProvider, original_node)
        if isinstance(parent, (cst.ImportFrom, cst.ImportAlias)):
            return updated_node  # module paths: rewritten with their statement
        module = self.names.module_of(original_node.value)
        if module is not None:
            return self._module_attribute(original_node, updated_node, module)
        if attr in ("request_headers", "response_headers"):
            return _attribute_path(updated_node.value, lookup(Kind.ATTRIBUTE, attr))
        if attr in _ATTRIBUTES:
            return self._connection_attribute(original_node, updated_node)
        if attr in _EXCEPTION_ATTRIBUTES:
            proof = self._status_exception(original_node.value)
            if proof:
                return _attribute_path(updated_node.value, _EXCEPTION_ATTRIBUTES[attr])
            if proof is None:
                self.report(
                    original_node,
                    attr,
                    f"{dotted(original_node.value)} may be an InvalidStatusCode: "
                    f"if so, write .{_EXCEPTION_ATTRIBUTES[attr].new}",
                )
        return updated_node

    def _module_attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute, module: str
    ) -> cst.BaseExpression:
        attr = original_node.attr.value
        if f"{module}.{attr}" in LEGACY_MODULES:
            # ``websockets.exceptions``: the parent attribute drops it; alone it
            # has no equivalent.
            parent = self.get_metadata(ParentNodeProvider, original_node)
            if not (
                isinstance(parent, cst.Attribute) and parent.value is original_node
            ):
                self.report(
                    original_node,
                    f"{module}.{attr}",
                    f"{NEW_MODULE} has no submodule {attr}; use {NEW_MODULE} itself",
                )
            return updated_node
        new = _OBJECT_RENAMES.get(attr, attr)
        if new not in _AVAILABLE:
            self.report(
                original_node,
                f"{module}.{attr}",
                f"{attr} is not in {NEW_MODULE}; migrate it by hand",
            )
            return updated_node
        # ``websockets.exceptions.X`` and ``websockets.client.X`` become
        # ``websockets.X``: the top-level alias now names wskit.asyncio.
        value = updated_node.value
        if isinstance(value, cst.Attribute) and self.names.module_of(
            original_node.value
        ) in ("websockets.client", "websockets.exceptions"):
            inner = cst.ensure_type(original_node.value, cst.Attribute)
            if self.names.module_of(inner.value) == "websockets":
                value = cst.ensure_type(updated_node.value, cst.Attribute).value
        return updated_node.with_changes(value=value, attr=cst.Name(new))

    def _connection_attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        attr = original_node.attr.value
        row = _ATTRIBUTES[attr]
        proof = self.names.proven(original_node.value, Binding.CONNECTION)
        if proof is False:
            return updated_node
        subject = dotted(original_node.value)
        if not row.codemod_safe or row.new is None:
            self.report(original_node, attr, row.message)
            return updated_node
        if proof is None:
            self.report(
                original_node,
                attr,
                f"{subject} may be a connection: if so, write {subject}.{row.new}",
            )
            return updated_node
        if attr in ("open", "closed"):
            return self._state_test(original_node, updated_node.value, attr)
        return _attribute_path(updated_node.value, row)

    def _state_test(
        self, original_node: cst.Attribute, value: cst.BaseExpression, attr: str
    ) -> cst.BaseExpression:
        self.needs_state = True
        alias = self.names.module_alias
        state = cst.parse_expression("State" if alias is None else f"{alias}.State")
        member = "OPEN" if attr == "open" else "CLOSED"
        comparison = cst.Comparison(
            left=cst.Attribute(value=value, attr=cst.Name("state")),
            comparisons=[
                cst.ComparisonTarget(
                    operator=cst.Is(),
                    comparator=cst.Attribute(value=state, attr=cst.Name(member)),
                )
            ],
        )
        parent = self.get_metadata(ParentNodeProvider, original_node)
        loose = isinstance(parent, _LOOSE_PARENTS) or (
            isinstance(parent, cst.UnaryOperation)
            and isinstance(parent.operator, cst.Not)
        )
        if not loose:
            comparison = comparison.with_changes(
                lpar=[cst.LeftParen()], rpar=[cst.RightParen()]
            )
        self._made.add(id(comparison))
        return comparison

    def leave_UnaryOperation(
        self, original_node: cst.UnaryOperation, updated_node: cst.UnaryOperation
    ) -> cst.BaseExpression:
        operand = updated_node.expression
        if isinstance(updated_node.operator, cst.Not) and id(operand) in self._made:
            comparison = cst.ensure_type(operand, cst.Comparison)
            target = comparison.comparisons[0]
            return comparison.with_changes(
                comparisons=[target.with_changes(operator=cst.IsNot())],
                lpar=updated_node.lpar,
                rpar=updated_node.rpar,
            )
        return updated_node

    # Calls of connect().

    def leave_Call(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        if not self.names.is_connect_call(original_node):
            return updated_node
        given = {
            arg.keyword.value for arg in original_node.args if arg.keyword is not None
        }
        args: list[cst.Arg] = []
        for original_arg, arg in zip(
            original_node.args, updated_node.args, strict=True
        ):
            if original_arg.star == "**":
                self.report(
                    original_arg,
                    "**kwargs",
                    "check these keyword arguments for legacy names: "
                    + ", ".join(sorted(_KEYWORDS)),
                )
            keyword = None if arg.keyword is None else arg.keyword.value
            row = _KEYWORDS.get(keyword) if keyword is not None else None
            if row is None:
                args.append(arg)
                continue
            if keyword in ("create_protocol", "klass"):
                if self._factory_is_safe(original_arg.value):
                    if "create_connection" in given:
                        continue  # ignored by the shim too
                    given.add("create_connection")
                    args.append(arg.with_changes(keyword=cst.Name("create_connection")))
                else:
                    self.report(
                        original_arg,
                        f"{keyword}=",
                        "pass a ClientConnection subclass as create_connection=; "
                        "its __init__ must accept (protocol, **options)",
                    )
                    args.append(arg)
                continue
            if not row.codemod_safe:
                self.report(original_arg, f"{keyword}=", row.message)
                args.append(arg)
                continue
            if row.new is None:
                continue  # loop=, read_limit=: dropped
            if row.new in given:
                if keyword == "timeout":
                    continue  # the shim ignores timeout= when close_timeout= is set
                self.report(
                    original_arg,
                    f"{keyword}=",
                    f"both {keyword}= and {row.new}= are given; keep one",
                )
                args.append(arg)
                continue
            args.append(arg.with_changes(keyword=cst.Name(row.new)))
        if args and updated_node.args:
            args[-1] = args[-1].with_changes(comma=updated_node.args[-1].comma)
        return updated_node.with_changes(args=args)

    def _factory_is_safe(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Name):
            return False
        return self.names.classes.get(value.value, False)

    # The State import.

    def leave_Module(
        self, original_node: cst.Module, updated_node: cst.Module
    ) -> cst.Module:
        if not self.needs_state or self.names.module_alias is not None:
            return updated_node
        body = list(updated_node.body)
        for index, statement in enumerate(body):
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if (
                    isinstance(small, cst.ImportFrom)
                    and small.module is not None
                    and dotted(small.module) == self.target
                    and not isinstance(small.names, cst.ImportStar)
                ):
                    names = list(small.names)
                    if any(
                        cst.ensure_type(alias.name, cst.Name).value == "State"
                        for alias in names
                    ):
                        return updated_node
                    trailing = names[-1].comma
                    names.append(cst.ImportAlias(name=cst.Name("State")))
                    new_small = small.with_changes(
                        names=_sorted_aliases(names, trailing)
                    )
                    body[index] = statement.with_changes(
                        body=[new_small if s is small else s for s in statement.body]
                    )
                    return updated_node.with_changes(body=body)
        # No import from wskit.asyncio to extend: add one after the imports.
        position = 0
        for index, statement in enumerate(body):
            if isinstance(statement, cst.SimpleStatementLine) and any(
                isinstance(small, (cst.Import, cst.ImportFrom))
                for small in statement.body
            ):
                position = index + 1
        body.insert(position, cst.parse_statement(f"from {self.target} import State\n"))
        return updated_node.with_changes(body=body)


def _attribute_path(value: cst.BaseExpression, row: Rename) -> cst.BaseExpression:
    """``value.a.b`` for a row whose new spelling is ``a.b``."""
    assert row.new is not None
    result = value
    for part in row.new.split("."):
        result = cst.Attribute(value=result, attr=cst.Name(part))
    return result


def _sort_key(alias: cst.ImportAlias) -> tuple[int, str]:
    # isort's order-by-type, which ruff applies: CONSTANTS, Classes, functions.
    name = cst.ensure_type(alias.name, cst.Name).value
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _sorted_aliases(
    aliases: Sequence[cst.ImportAlias], trailing: cst.Comma | cst.MaybeSentinel
) -> list[cst.ImportAlias]:
    """Sort imported names as ruff's isort does, keeping the commas' layout.

    Args:
        aliases: The names, possibly with one appended.
        trailing: The comma after the last name of the original statement.
    """
    commas: list[cst.Comma | cst.MaybeSentinel] = []
    for alias in aliases[:-1]:
        comma = alias.comma
        if not isinstance(comma, cst.Comma) or comma is trailing:
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        commas.append(comma)
    commas.append(trailing)
    ordered = sorted(aliases, key=_sort_key)
    return [
        alias.with_changes(comma=comma)
        for alias, comma in zip(ordered, commas, strict=True)
    ]


def rewrite_source(source: str, path: str = "<string>") -> Result:
    """Rewrite one module from the legacy websockets API to wskit.asyncio.

    Args:
        source: The module's source code.
        path: The file name, for findings.

    Returns:
        The rewritten source and what was left for a human.

    Raises:
        libcst.ParserSyntaxError: ``source`` is not valid Python.
    """
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module)
    names = Names()
    wrapper.module.visit(names)
    if not names.legacy_imports:
        # Not a legacy program (or already migrated): nothing to do.
        return Result(source, False, ())
    rewriter = _Rewriter(names, path, NEW_MODULE)
    new_module = wrapper.visit(rewriter)
    if rewriter.findings:
        # Something is left for a human: import the shim, which accepts both
        # spellings, so that the program keeps running and a later run (after
        # the fixes) still sees it as legacy code and finishes the migration.
        rewriter = _Rewriter(names, path, SHIM_MODULE)
        new_module = wrapper.visit(rewriter)
    new_source = new_module.code
    findings = tuple(
        sorted(rewriter.findings, key=lambda finding: (finding.line, finding.column))
    )
    return Result(new_source, new_source != source, findings)
