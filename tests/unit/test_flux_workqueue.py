"""The Flux emulator's work queue: no key twice in the queue, never held by two reconciler
threads at once, a change that arrives while a key is held is not lost, and a requeue-after
(spec.interval) waits its delay."""

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


def test_a_requeue_waits_its_delay_and_the_last_one_asked_for_wins() -> None:
    work: WorkQueue[str] = WorkQueue()
    work.add_after("a", 3600)
    work.add_after("a", 0.05)  # the reconcile that just ran decides when the next one is
    work.add_after("b", 3600)
    assert work.take(0.01) is None  # not due yet
    assert work.take(5) == "a"
    work.release("a")
    assert work.take(0.05) is None  # "b" still waits; "a"'s hour-long requeue was replaced
    assert work.pending("b") is not None and work.pending("a") is None


def test_a_change_drops_the_pending_requeue_and_a_due_requeue_of_a_held_key_waits() -> None:
    work: WorkQueue[str] = WorkQueue()
    work.add_after("a", 3600)
    work.add("a")  # a change: reconcile now, and that reconcile schedules the next one
    assert work.pending("a") is None
    assert work.take(0.1) == "a"
    work.add_after("a", 0.01)  # due while still held
    assert work.take(0.1) is None  # never handed to a second thread
    work.release("a")
    assert work.take(0.1) == "a"


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
