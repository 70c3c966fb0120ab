"""Hot reload through the dashboard, on a real file watched by watchfiles."""

from __future__ import annotations

import os

from ants.node.job import JobStatus
from ants.tui.app import make_app
from ants.tui.widgets.jobs_panel import JobsPanel
from ants.tui.widgets.log_panel import LogPanel
from ants.tui.widgets.node_header import NodeHeader

SIZE = (120, 40)
MANY_JOBS = 100_000
"""Enough jobs that the node keeps making one per beat for the whole test."""

BROKEN_LINE = "def broken(:"


def _results(node, version: str) -> int:
    return sum(
        1
        for record in node.snapshot().jobs
        if record.status is JobStatus.DONE and record.result["version"] == version
    )


def _log_text(app) -> str:
    # The log panel is on the base screen, also while a modal screen is on top.
    return "\n".join(app.screen_stack[0].query_one(LogPanel).plain_lines)


def _save_atomically(path, text: str) -> None:
    """Save as many editors do: write a temporary file, then rename it over."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


async def test_reload_hook_change_shows_new_results(
    node_file, node_source, make_node, wait_until
):
    node_file.write_text(node_source("v1", MANY_JOBS))
    node = make_node(node_file)
    app = make_app(node, path=node_file)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _results(node, "v1") >= 2, "v1 results")

        node_file.write_text(node_source("v2", MANY_JOBS))
        await wait_until(
            pilot,
            lambda: "reloaded CountingNode (reload 1)" in _log_text(app),
            "the reload notice",
            timeout=5.0,
        )
        assert node.runtime.reloads == 1
        await wait_until(pilot, lambda: _results(node, "v2") >= 2, "v2 results")

        jobs = app.query_one(JobsPanel)
        jobs.show_status(JobStatus.DONE)
        table = jobs.table(JobStatus.DONE)
        await wait_until(
            pilot,
            lambda: any(
                '"version":"v2"' in text for text in table.column_texts("summary")
            ),
            "a v2 result in the Done table",
        )
        assert "reloads 1" in app.query_one(NodeHeader).plain_text()


async def test_reload_syntax_error_keeps_old_class(
    node_file, node_source, make_node, wait_until
):
    node_file.write_text(node_source("v1", MANY_JOBS))
    node = make_node(node_file)
    app = make_app(node, path=node_file)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _results(node, "v1") >= 2, "v1 results")
        old_class = type(node)

        broken = node_source("v2", MANY_JOBS, extra=BROKEN_LINE + "\n")
        broken_line = broken.splitlines().index(BROKEN_LINE) + 1
        node_file.write_text(broken)
        where = f"{node_file}:{broken_line}"
        await wait_until(
            pilot,
            lambda: "reload failed" in _log_text(app),
            "the reload failure notice",
            timeout=5.0,
        )
        assert where in _log_text(app)
        assert "error: reload failed, CountingNode keeps running" in _log_text(app)
        await wait_until(
            pilot,
            lambda: "reload failed" in app.query_one(NodeHeader).plain_text(),
            "the reload error in the header",
        )
        assert where in app.query_one(NodeHeader).plain_text()
        # The traceback from the snapshot reaches the log panel as well.
        await wait_until(
            pilot, lambda: BROKEN_LINE in _log_text(app), "the offending source line"
        )

        assert type(node) is old_class
        done_before = _results(node, "v1")
        await wait_until(
            pilot, lambda: _results(node, "v1") > done_before + 2, "more v1 results"
        )
        assert _results(node, "v2") == 0

        _save_atomically(node_file, node_source("v3", MANY_JOBS))
        await wait_until(
            pilot,
            lambda: "reloaded CountingNode (reload 1)" in _log_text(app),
            "a reload after the fix",
            timeout=5.0,
        )
        await wait_until(pilot, lambda: _results(node, "v3") >= 1, "v3 results")
        await wait_until(
            pilot,
            lambda: "reload failed" not in app.query_one(NodeHeader).plain_text(),
            "the error cleared from the header",
        )


async def test_reload_after_atomic_save(node_file, node_source, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, path=node_file)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: node.snapshot().beat > 2, "a few beats")
        for reload in (1, 2):
            _save_atomically(node_file, node_source(f"v{reload + 1}"))
            notice = f"reloaded CountingNode (reload {reload})"
            await wait_until(
                pilot,
                lambda notice=notice: notice in _log_text(app),
                notice,
                timeout=5.0,
            )
        assert node.runtime.reloads == 2


async def test_reload_key_forces_a_reload(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, path=node_file)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("r")
        await wait_until(
            pilot,
            lambda: "reloaded CountingNode (reload 1)" in _log_text(app),
            "the forced reload",
            timeout=5.0,
        )


async def test_reload_keeps_id_jobs_and_peers(
    node_file, node_source, make_node, wait_until
):
    node_file.write_text(node_source("v1", MANY_JOBS))
    node = make_node(node_file)
    app = make_app(node, path=node_file)
    async with app.run_test(size=SIZE) as pilot:
        peer = make_node(node_file, [node.communication.listen_address])
        peer.start()
        await wait_until(pilot, lambda: _alive_peers(node) == {peer.node_id}, "peer")
        await wait_until(pilot, lambda: _results(node, "v1") >= 2, "v1 results")
        node_id = node.node_id
        done_before = {r.id for r in node.snapshot().jobs if r.status is JobStatus.DONE}

        node_file.write_text(node_source("v2", MANY_JOBS))
        await wait_until(pilot, lambda: node.runtime.reloads == 1, "the reload")

        assert node.node_id == node_id
        assert _alive_peers(node) == {peer.node_id}
        done_after = {r.id for r in node.snapshot().jobs if r.status is JobStatus.DONE}
        assert done_before <= done_after


async def test_reload_import_error_names_line(
    node_file, node_source, make_node, wait_until
):
    node_file.write_text(node_source("v1", MANY_JOBS))
    node = make_node(node_file)
    app = make_app(node, path=node_file)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _results(node, "v1") >= 1, "v1 results")
        old_class = type(node)

        importing = "import ants_module_that_does_not_exist"
        source = node_source("v2", MANY_JOBS, extra=importing + "\n")
        node_file.write_text(source)
        line = source.splitlines().index(importing) + 1
        await wait_until(
            pilot,
            lambda: f"{node_file}:{line}" in _log_text(app),
            "the import error with its file and line",
            timeout=5.0,
        )
        assert "ants_module_that_does_not_exist" in _log_text(app)
        assert type(node) is old_class


def _alive_peers(node) -> set[str]:
    return {
        member.node_id
        for member in node.snapshot().members
        if member.state == "alive" and not member.is_self
    }
