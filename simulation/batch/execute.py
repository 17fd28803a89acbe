"""Feed runs to an executor and hand each outcome on as soon as it arrives.

Only a window of runs is in flight at a time, so the parent holds a few futures, not thousands,
and Ctrl-C has little to cancel. If a local worker process dies (killed, out of memory) the pool
breaks: the runs in flight are recorded as failed (a rerun retries them) and a fresh pool takes
over the rest.
"""

from __future__ import annotations

import contextlib
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool

from simulation.batch.executors import Pool
from simulation.batch.plan import RunSpec
from simulation.batch.worker import RunOutcome, Task, execute, one_line

BROKEN = (
    "BrokenProcessPool: a worker process died (killed or out of memory) with this run in flight"
)


def run_all(
    runs: Iterable[RunSpec],
    pool: Pool,
    make_task: Callable[[RunSpec], Task],
    on_outcome: Callable[[RunSpec, RunOutcome], None],
) -> None:
    """Run every task on ``pool``, handing on each outcome as soon as it arrives.

    A failing run never stops the others: it comes back as a failed outcome, and so does every
    run in flight when the process pool breaks, after which a fresh pool runs the rest.

    Args:
        runs: The runs to do, submitted in this order.
        pool: Where they run; at most ``pool.capacity`` are in flight.
        make_task: Builds the picklable task a worker receives for a run.
        on_outcome: Called in this process with each run and its outcome, in completion order.
    """
    pending = deque(runs)
    in_flight: dict[Future[RunOutcome], RunSpec] = {}
    try:
        while pending or in_flight:
            while pending and len(in_flight) < pool.capacity:
                spec = pending.popleft()
                in_flight[_submit(pool, make_task(spec), len(pending) + 1)] = spec
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                # a run leaves ``in_flight`` only once recorded: an interruption before that
                # (SIGTERM between its shard and its manifest line) records it in ``_settle``
                spec = in_flight[future]
                outcome, lost = _outcome(future, spec)
                broken |= lost
                gone = None if outcome.ok else pool.lost()
                if gone is not None:  # the executor is gone: stop, say so, keep what is done
                    unfinished = _lose(in_flight, on_outcome, gone) + len(pending)
                    in_flight.clear()
                    raise ExecutorLost(f"{gone}; {unfinished} runs were not finished")
                on_outcome(spec, outcome)
                del in_flight[future]
            if broken:  # the other runs in flight end at once, most with the broken pool
                for future, spec in in_flight.items():
                    wait([future])
                    on_outcome(spec, _outcome(future, spec)[0])
                in_flight.clear()
                if pending:
                    pool.restart()
    except BaseException:  # Ctrl-C, SIGTERM, a full disk: keep what the runs in flight finish
        _settle(in_flight, on_outcome)
        raise


def _submit(pool: Pool, task: Task, left: int) -> Future[RunOutcome]:
    """Hand a task to the executor; an executor that is gone ends the batch, in one line."""
    try:
        return pool.executor.submit(execute, task)
    except Exception as e:
        gone = pool.lost() or f"the executor refused work ({one_line(e)})"
        raise ExecutorLost(f"{gone}; {left} runs were not started") from None


def _settle(
    in_flight: dict[Future[RunOutcome], RunSpec],
    on_outcome: Callable[[RunSpec, RunOutcome], None],
) -> None:
    """After an interruption: cancel the runs not started, record those that finish.

    The runs already running are waited for (they take a run's time at most) so that their
    work is kept; a second Ctrl-C abandons them (a rerun computes them again).
    """
    running = {f: s for f, s in in_flight.items() if not f.cancel()}
    if any(not f.done() for f in running):
        print(
            f"waiting for {len(running)} run(s) in progress to finish (Ctrl-C again to abandon "
            "them)",
            file=sys.stderr,
            flush=True,
        )
    for future, spec in running.items():
        wait([future])
        with contextlib.suppress(Exception):  # the disk may still be full: record what we can
            on_outcome(spec, _outcome(future, spec)[0])


class ExecutorLost(RuntimeError):
    """The executor went away (a Dask scheduler died): the batch cannot go on."""


def _lose(
    in_flight: dict[Future[RunOutcome], RunSpec],
    on_outcome: Callable[[RunSpec, RunOutcome], None],
    why: str,
) -> int:
    """Record the runs in flight with a lost executor.

    Finished ones are recorded as they are, the rest as lost with it (a rerun retries them).
    """
    lost = 0
    for future, spec in in_flight.items():
        outcome = _outcome(future, spec)[0] if future.done() else None
        if outcome is None or not outcome.ok:
            outcome = RunOutcome(spec.run_id, False, 0.0, f"lost: {why}")
            lost += 1
        on_outcome(spec, outcome)
    return lost


def _outcome(future: Future[RunOutcome], spec: RunSpec) -> tuple[RunOutcome, bool]:
    """The run's outcome, and whether the process pool broke."""
    try:
        return future.result(), False
    except BrokenProcessPool:
        return RunOutcome(spec.run_id, False, 0.0, BROKEN), True
    except Exception as e:  # the executor's own failure (e.g. Dask lost the worker)
        return RunOutcome(spec.run_id, False, 0.0, one_line(e)), False
