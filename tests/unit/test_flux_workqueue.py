"""The Flux emulator's work queue: no key twice in the queue, never held by two reconciler
threads at once, and a change that arrives while a key is held is not lost."""

from __future__ import annotations

import threading
import time

from tests.support.waiting import wait_until

from slipway.sandbox.flux._workqueue import WorkQueue


def test_a_key_waits_in_the_queue_once() -> None:
    work: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        work.add(key)
    assert [work.take(0.1), work.take(0.1), work.take(0.05)] == ["a", "b", None]


def test_a_key_added_while_held_comes_back_once_after_release() -> None:
    work: WorkQueue[str] = WorkQueue()
    work.add("a")
    assert work.take(0.1) == "a"
    work.add("a")
    work.add("a")
    assert work.take(0.05) is None  # not handed to a second thread while held
    work.release("a")
    assert work.take(0.1) == "a"
    work.release("a")
    assert work.take(0.05) is None


def test_a_forced_reconcile_is_remembered_until_taken() -> None:
    work: WorkQueue[str] = WorkQueue()
    work.add("a")
    assert work.take(0.1) == "a"
    work.add("a", force=True)  # e.g. its source got a new revision mid-reconcile
    assert work.take_forced("a") is True
    assert work.take_forced("a") is False


def test_threads_never_hold_one_key_at_once_and_lose_no_change() -> None:
    work: WorkQueue[int] = WorkQueue()
    held: set[int] = set()
    overlaps: list[int] = []
    started: dict[int, float] = {}  # when each key's latest reconcile began
    lock = threading.Lock()
    stop = threading.Event()

    def reconciler() -> None:
        while not stop.is_set():
            key = work.take(0.05)
            if key is None:
                continue
            with lock:
                if key in held:
                    overlaps.append(key)
                held.add(key)
                started[key] = time.monotonic()
            time.sleep(0.001)  # time is the subject: a reconcile lasts, so others may overlap it
            with lock:
                held.discard(key)
            work.release(key)

    threads = [threading.Thread(target=reconciler) for _ in range(4)]
    for thread in threads:
        thread.start()
    last_added: dict[int, float] = {}
    for _ in range(50):
        for key in range(5):
            last_added[key] = time.monotonic()
            work.add(key)

    def caught_up() -> bool:
        with lock:
            return all(started.get(k, 0.0) > t for k, t in last_added.items())

    try:
        wait_until(
            caught_up,
            message="every key reconciled after its last change",
            interval=0.01,
            timeout=10,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert overlaps == []
    assert caught_up()  # every key was reconciled again after its last change
