"""The node header on the fake node: its text and when it requests a layout pass."""

from __future__ import annotations

from dataclasses import replace

from ants.tui.widgets.node_header import NodeHeader

from .fakes import SELF_ID, build_fixed_app, fixed_snapshot


async def test_header_layout_only_when_height_changes():
    app = build_fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        header = app.query_one(NodeHeader)
        layouts: list[bool] = []
        refresh = header.refresh

        def record_refresh(*regions, layout=False, **options):
            layouts.append(layout)
            return refresh(*regions, layout=layout, **options)

        header.refresh = record_refresh
        snapshot = fixed_snapshot()
        header.apply_snapshot(replace(snapshot, version=2, beat=snapshot.beat + 1))
        header.apply_snapshot(replace(snapshot, version=3, warnings=("disk full",)))
        header.apply_snapshot(replace(snapshot, version=4, warnings=("disk full",)))

        assert layouts == [False, True, False]
        text = header.plain_text()
        assert SELF_ID in text
        assert "warning: disk full" in text
