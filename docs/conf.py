"""Sphinx configuration for the wskit documentation.

Build: ``sphinx-build -W -n --keep-going -b html docs docs/_build/html``.

The four packages are imported from their source trees, so the build needs no
install. Python's own inventory (intersphinx) needs the network: it is used when
``WSKIT_DOCS_INTERSPHINX=1``; otherwise references to the standard library are
rendered as plain text (see ``nitpick_ignore_regex``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

for _package in ("core", "asyncio", "threading", "legacy"):
    sys.path.insert(0, str(ROOT / "packages" / f"wskit-{_package}" / "src"))
sys.path.insert(0, str(DOCS / "_ext"))

project = "wskit"
copyright = "the wskit authors"
author = "the wskit authors"

try:
    from wskit.core import __version__ as release
except ImportError:  # pragma: no cover - the build then fails on autodoc anyway
    release = "unknown"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_inline_tabs",
    "wskit_docs",
]

exclude_patterns = [
    "_build",
    "_generated",
    "measured",
    "faq/generated",
    "examples/README.txt",
]
templates_path: list[str] = []

# Every reference must resolve (sphinx-build -n), so that the reference and the
# how-to guides cannot drift apart silently.
nitpicky = True

# Without the network there is no inventory of Python's documentation, so names
# from the standard library cannot resolve: render them as plain text rather than
# failing. Built-in types (str, bytes, None...) and typing names are already
# handled by Sphinx itself.
STDLIB_MODULES = (
    "asyncio",
    "codecs",
    "collections",
    "concurrent",
    "contextlib",
    "dataclasses",
    "enum",
    "http",
    "io",
    "ipaddress",
    "logging",
    "os",
    "pathlib",
    "re",
    "selectors",
    "signal",
    "socket",
    "ssl",
    "struct",
    "sys",
    "threading",
    "time",
    "types",
    "typing",
    "urllib",
    "uuid",
    "warnings",
    "zlib",
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(STDLIB_MODULES)})(\..+)?"),
    # Built-in exceptions and types spelled as references in docstrings.
    (r"py:.*", r"(EOFError|OSError|TimeoutError|ValueError|TypeError|KeyError)"),
    (r"py:.*", r"(RuntimeError|UnicodeDecodeError|DeprecationWarning)"),
    # Methods of built-in types, e.g. dict.update.
    (r"py:.*", r"(dict|list|set|tuple|str|bytes|bytearray|memoryview|object)\.\w+"),
    # C modules behind the standard library (asyncio.Future is _asyncio.Future).
    (r"py:.*", r"_(asyncio|socket|ssl|io|thread)(\..+)?"),
    # Private names (type variables such as _P) are not documented by design.
    (r"py:class", r"(.+\.)?_[A-Za-z]\w*"),
]

# Third-party libraries that appear in signatures (the codemod's libcst nodes):
# no inventory either.
nitpick_ignore_regex.append((r"py:.*", r"libcst(\..+)?"))

if os.environ.get("WSKIT_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {"python": ("https://docs.python.org/3", None)}

# autodoc and napoleon: Google-style docstrings, members in source order.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# No autodoc_type_aliases: with Sphinx 9 an alias nested in a generic
# (Sequence[ExtensionParameter]) renders as "TypeAliasForwardRef"; signatures
# show the expanded unions instead.
python_use_unqualified_type_names = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"wskit {release}"
html_static_path: list[str] = []
pygments_style = "sphinx"
