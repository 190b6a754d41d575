"""The shared `main()` body of the nodes: start-up errors in one line, clean exit on SIGINT / SIGTERM,
and every thread's Python stack on stderr on SIGUSR1 (to see where a node that does not stop is stuck)
and on a crash (SIGSEGV and the like, in a native library).

A stop runs in order: the executor stops and waits for callbacks still running, the node is destroyed,
then rclpy shuts down. rclpy's own signal handlers would shut the context down first, the moment the
signal lands, under running callbacks and before the node's publishers are destroyed; destroying them
after that crashed the process now and then (SIGSEGV in the publisher's destruction, under CPU load). So
the signals here only ask the spin loop to stop.

The teardown after a stop (destroying the node, shutting rclpy down) runs under a deadline: Fast DDS can
deadlock, rarely, while it deletes its participant, and a node stuck there would never exit. Past
TEARDOWN_TIMEOUT_S, faulthandler's watchdog thread (which needs no GIL, so it fires even while a call into
the middleware holds it) writes every thread's stack to stderr under a ``Timeout (h:mm:ss)!`` line and
ends the process with status 1."""

from __future__ import annotations

import faulthandler
import signal
import threading
from collections.abc import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from dexnet_core.errors import DexnetError

STARTUP_ERRORS = (DexnetError, ValueError, ImportError, rclpy.exceptions.ParameterException)
TEARDOWN_TIMEOUT_S = 30.0  # destroying the node (a plan in progress finishes first) and shutting rclpy down
STOP_POLL_S = 0.1  # the spin loop looks for a stop request this often


def one_line(exc: BaseException) -> str:
    """First line of an exception message (torch's unpickling errors span many lines)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def run_node(make_node: Callable[[], Node], name: str, make_executor: Callable[[], Executor],
             args: list[str] | None = None) -> int:
    """Build the node and its executor (after rclpy.init) and spin; 0 on SIGINT/SIGTERM, 1 if the node
    cannot start."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    faulthandler.enable(all_threads=True)  # a crash in a native library leaves every thread's stack on stderr
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = make_node()
    except STARTUP_ERRORS as exc:
        rclpy.logging.get_logger(name).error(f"cannot start: {one_line(exc)}")
        rclpy.try_shutdown()
        return 1
    executor = make_executor()
    executor.add_node(node)
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=STOP_POLL_S)
    except ExternalShutdownException:
        pass
    finally:
        # wait for callbacks still running in executor threads: destroying the node under one of them
        # can crash the process
        executor.shutdown(timeout_sec=10.0)
        faulthandler.dump_traceback_later(TEARDOWN_TIMEOUT_S, exit=True)
        try:
            node.destroy_node()
            rclpy.try_shutdown()
        finally:
            faulthandler.cancel_dump_traceback_later()
    return 0


def teardown_timed_out(log: str) -> bool:
    """Whether a node's output ``log`` ends with the stack dump of a teardown past TEARDOWN_TIMEOUT_S."""
    lines = log.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Timeout (") and line.endswith(")!")]
    stack = ("Thread 0x", "Current thread 0x", "  File ", "  <")
    return bool(starts) and all(line.startswith(stack) or not line.strip() for line in lines[starts[-1] + 1:])
