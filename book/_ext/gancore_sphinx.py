"""Sphinx helpers for the API reference of gancore (loaded from _config.yml).

1. Cross-references in docstrings resolve the way Python resolves names. A docstring in
   ``gancore.train`` may write :class:`ConfigError` for the exception it imports from
   ``gancore.errors``; Sphinx alone looks for ``gancore.train.ConfigError`` and
   ``ConfigError`` and would report a dangling reference. Here the module the reference
   appears in is imported, the name looked up in it, and the reference pointed at the
   object's documented, canonical name. References that still do not resolve are left to
   Sphinx, so ``-n`` keeps reporting real mistakes.

2. Every module-level constant listed in a module's ``__all__`` is documented by
   ``automodule``, also when it has no ``#:`` doc comment (autodoc skips those by default).
   A value whose ``repr`` is long or holds memory addresses (a dict of functions, say) is
   summarised by its keys instead of printed.
"""

from __future__ import annotations

import importlib

from sphinx.ext.autodoc import DataDocumenter, ModuleDocumenter


def _lookup(modname: str | None, clsname: str | None, target: str):
    if not modname:
        return None
    try:
        obj = importlib.import_module(modname)
    except Exception:  # noqa: BLE001 - an import problem just means "not resolvable here"
        return None
    for parts in (([clsname] if clsname else []) + target.split("."), target.split(".")):
        current = obj
        try:
            for part in parts:
                current = getattr(current, part)
        except AttributeError:
            continue
        return current
    return None


def _missing_reference(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    obj = _lookup(node.get("py:module"), node.get("py:class"), target)
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not (module and qualname):
        return None
    canonical = f"{module}.{qualname}"
    domain = env.get_domain("py")
    if canonical not in domain.objects:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", canonical, node, contnode)


def _readable(value) -> bool:
    text = repr(value)
    return len(text) <= 160 and " at 0x" not in text


class PublicDataDocumenter(DataDocumenter):
    """``autodata`` that also takes undocumented constants named in the module's ``__all__``."""

    @classmethod
    def can_document_member(cls, member, membername, isattr, parent) -> bool:
        if isattr and isinstance(parent, ModuleDocumenter):
            return True
        public = getattr(getattr(parent, "object", None), "__all__", ())
        return (
            isinstance(parent, ModuleDocumenter)
            and membername in public
            and not callable(member)
            and not isinstance(member, type(importlib))
        )

    def should_suppress_value_header(self) -> bool:
        return super().should_suppress_value_header() or not _readable(self.object)

    def get_doc(self):
        comment = self.get_module_comment(self.objpath[-1])
        if comment:
            return [comment]
        if isinstance(self.object, dict) and not _readable(self.object):
            keys = ", ".join(f"``{key!r}``" for key in self.object)
            return [[f"A dict with the keys {keys}.", ""]]
        return [[]]


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.add_autodocumenter(PublicDataDocumenter, override=True)
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
