"""Sphinx extension: keep sphinx-thebe (which Jupyter Book always loads) from adding its scripts.

The site is static and offline; sphinx-thebe's config script is added twice by Jupyter Book 1.x
(a console error, "THEBE_JS_URL has already been declared") and points at unpkg.com. Loaded after
sphinx-thebe, this removes its handler that adds the scripts.
"""

from __future__ import annotations

from typing import Any


def setup(app: Any) -> dict[str, Any]:
    """Disconnect sphinx-thebe's script-adding handler, if sphinx-thebe is loaded."""
    try:
        import sphinx_thebe
    except ImportError:
        return {"parallel_read_safe": True, "parallel_write_safe": True}
    for listeners in app.events.listeners.values():
        for listener in list(listeners):
            if listener.handler is sphinx_thebe.init_thebe_core:
                app.disconnect(listener.id)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
