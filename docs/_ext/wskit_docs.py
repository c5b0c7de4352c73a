"""Sphinx directives for the wskit documentation.

``.. wskit-package:: wskit.asyncio``
    Documents a package from its docstrings: the package docstring, a table of
    every name in the package's ``__all__``, and every public module found in
    the package (each module's own ``__all__`` selects its members). Modules are
    discovered, not listed, so a module that lands later is documented without
    editing the docs. Each name of the package's ``__all__`` is documented once,
    where it is defined, and ``wskit.asyncio.connect`` resolves there as a
    cross-reference target. A public name that ends up documented nowhere is a
    build warning.

``.. generated-call:: module:function``
    Inserts the reStructuredText that ``function()`` returns (for instance the
    table of renames of :mod:`wskit.legacy`). When the module or the function
    does not exist yet, the directive's content is shown in a note instead.

``.. generated-include:: PATH [PATH...]``
    Includes the first of the files that exists (paths relative to the
    repository root): reStructuredText as is, Markdown converted (see
    :func:`markdown_to_rst`). When none exists, the directive's content is shown
    in a note instead, so the build passes before the file is generated.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

__all__ = ["markdown_to_rst", "setup"]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


# Packages.


def public_modules(package: ModuleType) -> list[str]:
    """Names of the package's public modules, recursively, sorted.

    A module is public when no component of its name starts with ``_``, except
    ``__main__``, which documents a ``python -m`` command.
    """
    names = []
    path = getattr(package, "__path__", None)
    if path is None:
        return []
    for info in pkgutil.walk_packages(
        path, prefix=package.__name__ + ".", onerror=lambda name: None
    ):
        parts = info.name.split(".")[len(package.__name__.split(".")) :]
        if all(not part.startswith("_") or part == "__main__" for part in parts):
            names.append(info.name)
    return sorted(names)


def all_modules() -> list[str]:
    """Every public module of every wskit package, packages included."""
    import wskit

    names = []
    for info in pkgutil.iter_modules(wskit.__path__, prefix="wskit."):
        names.append(info.name)
        names += public_modules(importlib.import_module(info.name))
    return sorted(name for name in names if importable(name))


def importable(module_name: str) -> bool:
    """Import a module; on failure warn (the build fails under -W) and say no."""
    try:
        importlib.import_module(module_name)
    except Exception as exc:
        if module_name not in _import_failures:
            _import_failures.add(module_name)
            logger.warning("cannot import %s: %r", module_name, exc)
        return False
    return True


_import_failures: set[str] = set()


_assignments: dict[str, set[str]] = {}


def assigns(module_name: str, name: str) -> bool:
    """Whether the module's source binds ``name`` at top level (not by import)."""
    if module_name not in _assignments:
        found: set[str] = set()
        try:
            tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
        except (OSError, TypeError):
            tree = ast.Module(body=[], type_ignores=[])
        for node in tree.body:
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            found |= {t.id for t in targets if isinstance(t, ast.Name)}
        _assignments[module_name] = found
    return name in _assignments[module_name]


def canonical_name(module: ModuleType, name: str, modules: list[str]) -> str:
    """Where the public ``name`` of ``module`` is documented.

    Classes and functions are documented where they are defined. Other objects
    (type aliases, constants) are documented in the module that assigns them.
    """
    obj = getattr(module, name)
    if inspect.ismodule(obj):
        return obj.__name__
    if assigns(module.__name__, name):
        return f"{module.__name__}.{name}"
    defined_at = definition(obj)
    if defined_at is not None:
        return defined_at
    for other in modules:
        if not importable(other):
            continue
        candidate = importlib.import_module(other)
        if (
            name in getattr(candidate, "__all__", ())
            and getattr(candidate, name, None) is obj
            and assigns(other, name)
        ):
            return f"{other}.{name}"
    return f"{module.__name__}.{name}"


def definition(obj: Any) -> str | None:
    """``module.qualname`` of a wskit class or function defined in a public module."""
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if (
        (inspect.isclass(obj) or inspect.isfunction(obj))
        and isinstance(module_name, str)
        and isinstance(qualname, str)
        and module_name.startswith("wskit.")
        and not any(part.startswith("_") for part in module_name.split("."))
    ):
        return f"{module_name}.{qualname}"
    return None


def _kind(obj: Any) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj):
        return "function"
    return "data"


class PackageDirective(SphinxDirective):
    """``.. wskit-package:: wskit.asyncio``: see the module docstring."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        package_name = self.arguments[0]
        try:
            package = importlib.import_module(package_name)
        except ImportError as exc:
            logger.warning(
                "cannot import %s: %s; install it or add its src directory to "
                "sys.path in docs/conf.py",
                package_name,
                exc,
                location=self.get_location(),
            )
            return []
        modules = public_modules(package)
        everywhere = all_modules()
        public = list(getattr(package, "__all__", ()))
        aliases: dict[str, str] = self.env.wskit_aliases.setdefault(  # type: ignore[attr-defined]
            self.env.docname, {}
        )
        expected: dict[str, str] = self.env.wskit_expected.setdefault(  # type: ignore[attr-defined]
            self.env.docname, {}
        )
        lines = [
            f".. automodule:: {package_name}",
            "   :no-members:",
            "",
        ]
        if public:
            lines += [
                f".. rubric:: Public names of ``{package_name}``",
                "",
                ".. list-table::",
                "   :header-rows: 1",
                "   :widths: 30 15 55",
                "",
                "   * - Name",
                "     - Kind",
                "     - Documented at",
            ]
        defined_here = []
        for name in public:
            canonical = canonical_name(package, name, everywhere)
            kind = _kind(getattr(package, name))
            if kind == "module":
                pass
            elif canonical == f"{package_name}.{name}":
                defined_here.append((name, kind))
            else:
                aliases[f"{package_name}.{name}"] = canonical
            expected[f"{package_name}.{name}"] = canonical
            lines += [
                f"   * - ``{name}``",
                f"     - {kind}",
                f"     - :py:obj:`{canonical}`",
            ]
        lines.append("")
        for name, kind in defined_here:
            directive = {"function": "autofunction", "data": "autodata"}.get(
                kind, "autoclass"
            )
            lines += [f".. {directive}:: {package_name}.{name}", ""]
        for module_name in modules:
            if not importable(module_name):
                continue
            module = importlib.import_module(module_name)
            excluded = []
            dunders = []
            for name in getattr(module, "__all__", ()):
                canonical = canonical_name(module, name, everywhere)
                if canonical != f"{module_name}.{name}":
                    excluded.append(name)
                    aliases[f"{module_name}.{name}"] = canonical
                else:
                    expected[f"{module_name}.{name}"] = canonical
                    if name.startswith("__"):
                        dunders.append(name)
            lines += [
                f".. automodule:: {module_name}",
                "   :members:",
                "   :show-inheritance:",
            ]
            if excluded:
                lines.append(f"   :exclude-members: {', '.join(excluded)}")
            lines.append("")
            # automodule skips special names such as __version__.
            lines += [f".. autodata:: {module_name}.{name}\n" for name in dunders]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(
            StringList(lines, source=f"<wskit-package {package_name}>"),
            self.content_offset,
            node,
            match_titles=True,
        )
        return node.children


def _resolve_as(
    app: Sphinx, env: BuildEnvironment, node: Any, contnode: nodes.Element, target: str
) -> nodes.Element | None:
    new = node.deepcopy()
    new["reftarget"] = target
    return env.get_domain("py").resolve_xref(  # type: ignore[no-any-return]
        env,
        node.get("refdoc", env.docname),
        app.builder,
        node.get("reftype", "obj"),
        target,
        new,
        contnode,
    )


def resolve_reference(
    app: Sphinx, env: BuildEnvironment, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve what the Python domain could not, in two precise ways.

    1. ``wskit.asyncio.connect`` (a name re-exported by a module) resolves to
       where ``connect`` is documented.
    2. A short name in a docstring (``:class:`ClientConnection```) resolves to
       the object that name is bound to in the docstring's module, as Python
       would look it up there.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    for aliases in getattr(env, "wskit_aliases", {}).values():
        canonical = aliases.get(target)
        if canonical is not None:
            return _resolve_as(app, env, node, contnode, canonical)
    module_name = node.get("py:module")
    if not module_name or not module_name.startswith("wskit."):
        return None
    module = sys.modules.get(module_name)
    head, _, rest = target.partition(".")
    obj = getattr(module, head, None)
    canonical = definition(obj)
    if canonical is None:
        return None
    return _resolve_as(app, env, node, contnode, f"{canonical}.{rest}".rstrip("."))


def check_public_names(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn about public names (in an ``__all__``) that no page documents.

    autodoc leaves out a name without a docstring: it then has no target.
    """
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    for docname, expected in sorted(getattr(env, "wskit_expected", {}).items()):
        for public, canonical in sorted(expected.items()):
            if canonical not in objects:
                logger.warning(
                    "public name %s is not documented (expected at %s): give it "
                    "a docstring",
                    public,
                    canonical,
                    location=docname,
                )


def purge_aliases(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    getattr(env, "wskit_aliases", {}).pop(docname, None)
    getattr(env, "wskit_expected", {}).pop(docname, None)


def init_env(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    if not hasattr(env, "wskit_aliases"):
        env.wskit_aliases = {}  # type: ignore[attr-defined]
    if not hasattr(env, "wskit_expected"):
        env.wskit_expected = {}  # type: ignore[attr-defined]


# Docstrings.

_PROSE_TYPE = re.compile(r"^:type: ([A-Z][a-z]*\s.*)$")


def restore_prose_colon(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Undo napoleon reading "The request target: ..." as a type and a text.

    napoleon takes the first line of an attribute's docstring as ``type:
    description``. A capitalised phrase with a space is prose, not a type: put
    the line back together. Runs after napoleon (priority 600).
    """
    if what not in ("attribute", "property", "data"):
        return
    for index, line in enumerate(lines):
        match = _PROSE_TYPE.match(line)
        if match and lines:
            del lines[index]
            if index > 0 and not lines[index - 1].strip():
                del lines[index - 1]
            lines[0] = f"{match.group(1)}: {lines[0]}"
            return


# Generated fragments.

_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_HEADING_MARKS = '-~^"'


def _md_inline(text: str) -> str:
    """Convert Markdown inline markup: code, bold, links (``#label`` -> :ref:)."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"``{part[1:-1]}``")
            continue
        part = part.replace("\\|", "|")
        part = _MD_BOLD.sub(r"**\1**", part)

        def link(match: re.Match[str]) -> str:
            title, url = match.group(1), match.group(2)
            if url.startswith("#"):
                return f":ref:`{title} <{url[1:]}>`"
            return f"`{title} <{url}>`__"

        out.append(_MD_LINK.sub(link, part))
    return "".join(out)


def _table_cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def markdown_to_rst(text: str) -> str:
    """Convert the Markdown that reports are written in to reStructuredText.

    Supports what generated summaries use: ``#`` headings, pipe tables, bullet
    lists, fenced code blocks (also indented under a list item), paragraphs, and
    inline code, bold and links. Links to ``#label`` become ``:ref:`` to that
    label, so a report can point at a FAQ question.

    Args:
        text: The Markdown source.

    Returns:
        The reStructuredText.
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = re.match(r"^(\s*)```", line)
        if fence:
            indent = fence.group(1)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(
                    lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i]
                )
                i += 1
            i += 1
            out += [indent + "::", ""]
            out += [indent + "   " + b if b.strip() else "" for b in body]
            out.append("")
            continue
        heading = re.match(r"^(#{1,4})\s+(.*)$", stripped)
        if heading:
            title = _md_inline(heading.group(2).strip())
            mark = _HEADING_MARKS[len(heading.group(1)) - 1]
            out += ["", title, mark * max(len(title), 3), ""]
            i += 1
            continue
        if stripped.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = _table_cells(lines[i])
                if not all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
                    rows.append(cells)
                i += 1
            width = max(len(row) for row in rows)
            out += ["", ".. list-table::", "   :header-rows: 1", ""]
            for row in rows:
                row = row + [""] * (width - len(row))
                out.append(f"   * - {_md_inline(row[0]) or '..'}")
                out += [f"     - {_md_inline(cell) or '..'}" for cell in row[1:]]
            out.append("")
            continue
        item = re.match(r"^(\s*)[-*]\s+(.*)$", line)
        if item:
            out.append(f"{item.group(1)}- {_md_inline(item.group(2))}")
            i += 1
            continue
        out.append(_md_inline(line) if stripped else "")
        i += 1
    return "\n".join(out) + "\n"


class GeneratedIncludeDirective(SphinxDirective):
    """``.. generated-include:: PATH...``: see the module docstring."""

    required_arguments = 1
    optional_arguments = 10
    has_content = True

    def run(self) -> list[nodes.Node]:
        for argument in self.arguments:
            path = ROOT / argument
            # Rebuild the page when the fragment appears, changes or goes away.
            self.env.note_dependency(str(path))
            if path.is_file():
                break
        else:
            note = nodes.note()
            self.state.nested_parse(self.content, self.content_offset, note)
            return [note]
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            text = markdown_to_rst(text)
        self.state_machine.insert_input(
            StringList(text.splitlines(), source=str(path)), str(path)
        )
        return []


class GeneratedCallDirective(SphinxDirective):
    """``.. generated-call:: module:function``: see the module docstring."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        module_name, _, function_name = self.arguments[0].partition(":")
        try:
            function = getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError):
            note = nodes.note()
            self.state.nested_parse(self.content, self.content_offset, note)
            return [note]
        text = function()
        self.state_machine.insert_input(
            StringList(text.splitlines(), source=self.arguments[0]), self.arguments[0]
        )
        return []


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("wskit-package", PackageDirective)
    app.add_directive("generated-include", GeneratedIncludeDirective)
    app.add_directive("generated-call", GeneratedCallDirective)
    app.connect("env-before-read-docs", init_env)
    app.connect("env-purge-doc", purge_aliases)
    app.connect("missing-reference", resolve_reference)
    app.connect("autodoc-process-docstring", restore_prose_colon, priority=600)
    app.connect("env-check-consistency", check_public_names)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
