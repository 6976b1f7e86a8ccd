"""The ``mengchong`` command (and ``python -m mengchong``): :func:`mengchong.cli.main` with the
garbage collector paused while the process starts.

A start allocates hundreds of thousands of objects (modules, classes, settings, routes, pools)
and frees almost none of them, so every collection it triggers walks a growing heap for
nothing: ~70 ms of a start of ~0.9 s on the 2-vCPU machine. The collector is paused here, before
the first heavy import. ``serve`` resumes it once it listens, after one full collection and
``gc.freeze()`` (:func:`mengchong.server.run`); every other command resumes it before it runs
(:func:`mengchong.cli.run`).
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    from mengchong.cli import main as cli_main  # imported with the collector paused, see above

    return cli_main()
