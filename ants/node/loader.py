"""Loading the user's node class from a file, and reloading it when it changes.

Each load executes the file as a fresh module registered in `sys.modules`
under a unique name, so a failed load never leaves a half-updated module and
`dataclasses` and similar lookups work. Modules the file imports are not
reloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ants.errors import NodeLoadError
from ants.node.base import BaseNode

logger = logging.getLogger(__name__)

_counter = itertools.count(1)


def load_node_class(path: str | Path, class_name: str | None = None) -> type[BaseNode]:
    """Import `path` as a new module and return its BaseNode subclass.

    Raises NodeLoadError naming the file (and line, for a syntax error) when
    the file is missing, does not compile, fails while importing, or does not
    define exactly one BaseNode subclass (unless `class_name` picks one).
    """
    path = Path(path).resolve()
    source = _read(path)
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}:{exc.offset or 0}"
        raise NodeLoadError(
            f"{where}: syntax error: {exc.msg}",
            str(path),
            exc.lineno,
            "".join(traceback.format_exception_only(exc)),
        ) from exc

    module = _execute(path)
    return _pick_class(module, path, class_name)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NodeLoadError(
            f"node file {path} not found; pass the path of a .py file", str(path)
        ) from None
    except OSError as exc:
        raise NodeLoadError(f"cannot read node file {path}: {exc}", str(path)) from exc


def _execute(path: Path) -> ModuleType:
    name = f"ants_user_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise NodeLoadError(f"cannot import {path}: not a Python source file", str(path))
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        lineno = frames[-1].lineno if frames else None
        where = f"{path}:{lineno}" if lineno else str(path)
        raise NodeLoadError(
            f"{where}: importing the node file raised {type(exc).__name__}: {exc}",
            str(path),
            lineno,
            "".join(traceback.format_exception(exc)),
        ) from exc
    return module


def _pick_class(module: ModuleType, path: Path, class_name: str | None) -> type[BaseNode]:
    found = {
        value.__name__: value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseNode)
        and value is not BaseNode
        and value.__module__ == module.__name__
    }
    if class_name is not None:
        if class_name in found:
            return found[class_name]
        raise NodeLoadError(
            f"{path} defines no BaseNode subclass named {class_name!r}; "
            f"found: {', '.join(sorted(found)) or 'none'}",
            str(path),
        )
    if not found:
        raise NodeLoadError(
            f"{path} defines no BaseNode subclass; add a class such as "
            "'class MyNode(BaseNode):' with the hooks you need",
            str(path),
        )
    if len(found) > 1:
        raise NodeLoadError(
            f"{path} defines {len(found)} BaseNode subclasses ({', '.join(sorted(found))}); "
            "choose one with --node-class",
            str(path),
        )
    return next(iter(found.values()))


def file_digest(path: str | Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


class NodeReloader:
    """Watches a node file and swaps a running node's class when the file changes.

    The file's folder is watched, not the file, because editors that save by
    writing a temporary file and renaming it replace the watched inode. A
    change whose content hash equals the last load is ignored.
    """

    def __init__(
        self,
        node: BaseNode,
        path: str | Path,
        class_name: str | None = None,
        on_result: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.node = node
        self.path = Path(path).resolve()
        self.class_name = class_name
        self.on_result = on_result
        self._digest = file_digest(self.path)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="ants-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _watch(self) -> None:
        from watchfiles import Change, watch

        try:
            for changes in watch(
                self.path.parent,
                stop_event=self._stop,
                debounce=400,
                step=50,
                recursive=False,
                raise_interrupt=False,
                watch_filter=None,
            ):
                touched = any(
                    change in (Change.added, Change.modified)
                    and Path(changed).resolve() == self.path
                    for change, changed in changes
                )
                if touched:
                    self.reload_now()
        except Exception:
            logger.exception("watching %s failed; hot reload is off", self.path)

    def reload_now(self, force: bool = False) -> bool:
        """Load the file and hand the class to the node; return whether it loaded.

        Called from the watcher thread, or from any thread to force a reload.
        `on_result` runs on this calling thread when loading fails, and on the
        node's beat thread once the node has swapped the class.
        """
        with self._lock:
            return self._reload(force)

    def _reload(self, force: bool) -> bool:
        digest = file_digest(self.path)
        if digest is None:
            return False
        if digest == self._digest and not force:
            return True
        self._digest = digest
        try:
            new_class = load_node_class(self.path, self.class_name)
        except NodeLoadError as exc:
            logger.error("reload of %s failed, the previous class keeps running: %s",
                         self.path, exc)
            if exc.details:
                logger.debug("%s", exc.details)
            self.node.runtime.report_reload_error(f"{exc}\n{exc.details}".strip())
            if self.on_result is not None:
                self.on_result(False, str(exc))
            return False
        future = self.node.runtime.reload(new_class)
        if self.on_result is not None:
            callback = self.on_result
            name = new_class.__name__

            def done(result_future) -> None:
                error = result_future.exception()
                if error is None:
                    callback(True, f"reloaded {name} from {self.path.name}")
                else:
                    callback(False, f"reload of {name} failed: {error}")

            future.add_done_callback(done)
        return True
