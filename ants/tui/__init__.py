"""ants-tui: a Textual dashboard that runs one node and shows its cluster."""

from ants.tui.app import AntsApp, make_app

__all__ = ["AntsApp", "make_app"]
