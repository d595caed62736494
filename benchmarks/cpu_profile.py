"""Runs `python -m MODULE ARGS…` under cProfile timed by the process's CPU clock, not the
wall clock: on a crowded machine the wall clock also counts the time spent waiting for a
core, which inflates whatever happened to be running.

    python benchmarks/cpu_profile.py OUT.prof -m bot run --config FILE
"""

from __future__ import annotations

import cProfile
import os
import runpy
import sys
import time


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit(__doc__)
    sys.argv = [module, *rest]
    sys.path[0] = os.getcwd()  # as `python -m` has it: the code in the working directory
    profile = cProfile.Profile(time.process_time)
    try:
        profile.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    finally:
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
