"""Tests of the ants-tui dashboard."""
