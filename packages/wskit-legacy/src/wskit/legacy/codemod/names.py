"""What the names of a legacy program refer to, as far as the codemod can prove.

The codemod rewrites a common attribute name (``open``, ``path``,
``status_code``) only on an object that it can tell is a legacy connection (or a
legacy exception). :class:`Names` answers two questions from one read of the
module:

- which local names are bound to the legacy modules (``import websockets``,
  ``import wskit.legacy as websockets``, ``from websockets import exceptions``)
  and to objects in them (``from websockets.client import connect``);
- which dotted names (``ws``, ``self.ws``) are bound *only* to connections
  (``async with connect(...) as ws``, ``ws = await connect(...)``, ``async for ws
  in connect(...)``, a parameter annotated ``WebSocketClientProtocol``), or only
  to ``InvalidStatusCode`` exceptions (``except InvalidStatusCode as exc``).

The analysis is file-wide and conservative: a name bound once to anything else
anywhere in the file is not proven, and its uses are listed for a human.
"""

from __future__ import annotations

import enum

import libcst as cst

__all__ = ["LEGACY_MODULES", "Binding", "Names", "dotted"]

LEGACY_MODULES: dict[str, str] = {
    "websockets": "websockets",
    "websockets.client": "websockets.client",
    "websockets.exceptions": "websockets.exceptions",
    "websockets.legacy": "websockets",
    "websockets.legacy.client": "websockets.client",
    "websockets.legacy.protocol": "websockets.client",
    "websockets.legacy.exceptions": "websockets.exceptions",
    "wskit.legacy": "websockets",
    "wskit.legacy.client": "websockets.client",
    "wskit.legacy.exceptions": "websockets.exceptions",
}
"""Module paths that the codemod migrates, mapped to their canonical legacy name."""

_CONNECT_NAMES = frozenset({"connect", "unix_connect", "Connect"})


class Binding(enum.Enum):
    """What a dotted name was bound to, at one binding site."""

    CONNECTION = "connection"
    STATUS_EXCEPTION = "InvalidStatusCode exception"
    OTHER = "other"


def dotted(node: cst.BaseExpression) -> str | None:
    """Return ``a.b.c`` for a chain of names and attributes, else ``None``.

    Args:
        node: An expression.

    Returns:
        The dotted name.
    """
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


class Names(cst.CSTVisitor):
    """Read a module once; then resolve expressions to legacy modules and objects.

    Attributes:
        modules: Local name -> canonical legacy module it is bound to.
        objects: Local name -> name of the legacy object it is bound to.
        aliased: Local names imported with ``as`` (their name must not change).
        bindings: Dotted name -> what each binding site bound it to.
        module_alias: A local name bound to the top-level legacy module, if any.
        classes: Names of top-level classes that subclass the legacy connection,
            mapped to whether their ``__init__`` keeps the base signature.
    """

    def __init__(self) -> None:
        self.modules: dict[str, str] = {}
        self.objects: dict[str, str] = {}
        self.aliased: set[str] = set()
        self.bindings: dict[str, set[Binding]] = {}
        self.module_alias: str | None = None
        self.classes: dict[str, bool] = {}
        #: How many import statements name a legacy module.
        self.legacy_imports = 0
        self._depth = 0

    # Imports.

    def visit_Import(self, node: cst.Import) -> None:
        """Record ``import websockets[.x] [as y]``."""
        for alias in node.names:
            name = dotted(alias.name)
            if name is None or name not in LEGACY_MODULES:
                continue
            self.legacy_imports += 1
            canonical = LEGACY_MODULES[name]
            if alias.asname is not None:
                local = dotted(cst.ensure_type(alias.asname.name, cst.Name))
                assert local is not None
                self.modules[local] = canonical
            else:
                # ``import websockets.client`` binds ``websockets``.
                local = name.split(".")[0]
                if local == "wskit":
                    continue  # ``import wskit.legacy``: left to a human
                self.modules[local] = "websockets"
                canonical = "websockets"
            if canonical == "websockets" and self.module_alias is None:
                self.module_alias = local

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        """Record ``from websockets[.x] import a [as b]``."""
        if node.module is None or node.relative:
            return
        module = dotted(node.module)
        if module not in LEGACY_MODULES:
            return
        if isinstance(node.names, cst.ImportStar):
            self.legacy_imports += 1
            return
        self.legacy_imports += 1
        canonical = LEGACY_MODULES[module]
        for alias in node.names:
            name = cst.ensure_type(alias.name, cst.Name).value
            local = name
            if alias.asname is not None:
                local = cst.ensure_type(alias.asname.name, cst.Name).value
                self.aliased.add(local)
            submodule = f"{canonical}.{name}"
            if submodule in LEGACY_MODULES:
                self.modules[local] = LEGACY_MODULES[submodule]
            else:
                self.objects[local] = name

    # Resolution.

    def module_of(self, node: cst.BaseExpression) -> str | None:
        """The canonical legacy module that ``node`` refers to, if any."""
        if isinstance(node, cst.Name):
            return self.modules.get(node.value)
        if isinstance(node, cst.Attribute):
            base = self.module_of(node.value)
            if base is not None:
                return LEGACY_MODULES.get(f"{base}.{node.attr.value}")
        return None

    def object_of(self, node: cst.BaseExpression) -> str | None:
        """The name of the legacy object that ``node`` refers to, if any."""
        if isinstance(node, cst.Name):
            return self.objects.get(node.value)
        if (
            isinstance(node, cst.Attribute)
            and self.module_of(node.value) is not None
            and self.module_of(node) is None
        ):
            return node.attr.value
        return None

    def is_connect_call(self, node: cst.BaseExpression) -> bool:
        """Whether ``node`` is a call of the legacy ``connect`` or ``unix_connect``."""
        if isinstance(node, cst.Await):
            node = node.expression
        return (
            isinstance(node, cst.Call) and self.object_of(node.func) in _CONNECT_NAMES
        )

    def proven(self, node: cst.BaseExpression, binding: Binding) -> bool | None:
        """Whether ``node`` is proven to hold a ``binding``.

        Returns:
            ``True`` when every binding of the name is of that kind, ``None``
            when some are (a human must check), ``False`` when none is.
        """
        name = dotted(node)
        if name is None:
            return False
        seen = self.bindings.get(name, set())
        if binding not in seen:
            return False
        return True if seen == {binding} else None

    # Bindings.

    def _bind(self, target: cst.BaseExpression, binding: Binding) -> None:
        name = dotted(target)
        if name is not None:
            self.bindings.setdefault(name, set()).add(binding)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value, Binding.OTHER)

    def _value_binding(self, value: cst.BaseExpression | None) -> Binding:
        # ``await connect(...)`` is a connection; ``connect(...)`` is not yet.
        if isinstance(value, cst.Await) and self.is_connect_call(value):
            return Binding.CONNECTION
        return Binding.OTHER

    def visit_Assign(self, node: cst.Assign) -> None:
        """``ws = await connect(...)`` binds a connection."""
        for target in node.targets:
            self._bind(target.target, self._value_binding(node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        """Annotated assignments bind like plain ones, or by their annotation."""
        binding = self._value_binding(node.value)
        if self.object_of(node.annotation.annotation) == "WebSocketClientProtocol":
            binding = Binding.CONNECTION
        self._bind(node.target, binding)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        """``x += ...`` rebinds ``x`` to something else."""
        self._bind(node.target, Binding.OTHER)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        """``(x := ...)`` binds like an assignment."""
        self._bind(node.target, self._value_binding(node.value))

    def visit_For(self, node: cst.For) -> None:
        """``async for ws in connect(...)`` binds a connection."""
        binding = Binding.OTHER
        if node.asynchronous is not None and self.is_connect_call(node.iter):
            binding = Binding.CONNECTION
        self._bind(node.target, binding)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        """Comprehension targets bind something else."""
        self._bind(node.target, Binding.OTHER)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        """``async with connect(...) as ws`` binds a connection."""
        if node.asname is None:
            return
        binding = Binding.OTHER
        if self.is_connect_call(node.item) and not isinstance(node.item, cst.Await):
            binding = Binding.CONNECTION
        self._bind(node.asname.name, binding)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        """``except InvalidStatusCode as exc`` binds the legacy exception."""
        if node.name is None:
            return
        binding = Binding.OTHER
        if node.type is not None and self.object_of(node.type) == "InvalidStatusCode":
            binding = Binding.STATUS_EXCEPTION
        self._bind(node.name.name, binding)

    def visit_Param(self, node: cst.Param) -> None:
        """A parameter annotated with the legacy connection class is a connection."""
        binding = Binding.OTHER
        if node.annotation is not None:
            annotation = node.annotation.annotation
            if self.object_of(annotation) == "WebSocketClientProtocol":
                binding = Binding.CONNECTION
        self._bind(node.name, binding)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        """Record subclasses of the legacy connection and their ``__init__``."""
        self._depth += 1
        if self._depth > 1:
            return
        if not any(
            self.object_of(base.value) == "WebSocketClientProtocol"
            for base in node.bases
        ):
            return
        compatible = True
        for statement in node.body.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value in (
                "__init__",
                "__new__",
            ):
                compatible = _passes_everything_through(statement)
        self.classes[node.name.value] = compatible

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        """Track nesting, so that only top-level classes are recorded."""
        self._depth -= 1


def _passes_everything_through(function: cst.FunctionDef) -> bool:
    """Whether ``def __init__(self, *args, **kwargs)`` takes whatever the base does."""
    params = function.params
    return (
        len(params.params) == 1
        and not params.kwonly_params
        and not params.posonly_params
        and isinstance(params.star_arg, cst.Param)
        and params.star_kwarg is not None
    )
