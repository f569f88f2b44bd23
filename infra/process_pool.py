"""Work spread over worker processes, answered in the order it was given."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(
    work: Callable[[Item], Result],
    items: Iterable[Item],
    workers: int,
    *,
    start: Callable[..., None],
    start_args: tuple[Any, ...],
    in_flight_per_worker: int = 2,
) -> Iterator[Result]:
    """``work`` of each item in one of ``workers`` processes (each first runs ``start``
    with ``start_args``); the results in the items' order. Items are read only as far
    ahead as ``in_flight_per_worker`` per worker, so memory stays bounded. Processes are
    spawned, not forked: the caller holds connection pools and threads."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=start, initargs=start_args
    ) as pool:
        pending: deque[Future[Result]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= workers * in_flight_per_worker:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
