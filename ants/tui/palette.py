"""Colours of the current Textual theme, for Rich text inside table cells.

Cells of a DataTable and lines of a RichLog are Rich renderables, and those
cannot refer to CSS variables such as `$success`. These helpers read the
same colours from the active theme instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App
from textual.color import Color


@dataclass(frozen=True, slots=True)
class Palette:
    """Hex colours of one theme."""

    primary: str
    accent: str
    success: str
    warning: str
    error: str
    muted: str

    def member_state(self, state: str) -> str:
        """Return the style of a member state: alive, suspect, dead or left."""
        return {
            "alive": self.success,
            "suspect": self.warning,
            "dead": self.error,
        }.get(state, self.muted)


_cache: dict[str, Palette] = {}


def palette(app: App) -> Palette:
    """Return the colours of `app`'s current theme, computed once per theme."""
    name = app.theme
    cached = _cache.get(name)
    if cached is None:
        variables = app.get_css_variables()
        cached = Palette(
            primary=variables["primary"],
            accent=variables["accent"],
            success=variables["success"],
            warning=variables["warning"],
            error=variables["error"],
            muted=_muted(variables["foreground"], variables["background"]),
        )
        _cache[name] = cached
    return cached


def _muted(foreground: str, background: str) -> str:
    # Rich accepts only #rrggbb, so blend instead of using an alpha channel.
    return Color.parse(foreground).blend(Color.parse(background), 0.45).hex
