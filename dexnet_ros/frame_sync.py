"""Latest-frame slot: pairs a depth image with its camera_info (and mask) by stamp, never queues.

Subscription callbacks ``add_*`` messages; a worker thread calls ``wait`` and gets the newest complete
frame. Until the first camera_info arrives (and, with ``use_mask``, until the mask of its stamp arrives) a
depth image waits up to ``sync_timeout_s``, so a camera_info published just after the first depth image
still pairs with it; then the frame goes out with what is missing set to None. A depth image that arrives
before the previous one was taken replaces it (the stale one is counted in ``dropped``), so planning always
runs on the newest frame and a slow plan never builds a backlog.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from dexnet_ros.conversions import stamp_ns


@dataclass
class Frame:
    """One depth image with the camera_info and mask that go with it (None when missing)."""

    depth: Any
    info: Any | None
    mask: Any | None
    mask_missing: bool = False  # a mask was required but did not arrive within the timeout


class FrameSync:
    """Thread-safe newest-frame slot; ``use_mask`` makes a frame wait for the mask with its stamp."""

    def __init__(self, use_mask: bool = False, sync_timeout_s: float = 0.5, history: int = 16) -> None:
        self.use_mask = use_mask
        self.sync_timeout_s = sync_timeout_s
        self.dropped = 0
        self._history = history
        self._cond = threading.Condition()
        self._depth: Any | None = None
        self._depth_time = 0.0
        self._infos: OrderedDict[int, Any] = OrderedDict()
        self._masks: OrderedDict[int, Any] = OrderedDict()
        self._closed = False

    def _remember(self, store: OrderedDict[int, Any], msg: Any) -> None:
        store[stamp_ns(msg.header)] = msg
        store.move_to_end(stamp_ns(msg.header))
        while len(store) > self._history:
            store.popitem(last=False)

    def add_depth(self, msg: Any) -> None:
        """Offer a depth image; replaces (and counts as dropped) a pending one."""
        with self._cond:
            if self._depth is not None:
                self.dropped += 1
            self._depth, self._depth_time = msg, time.monotonic()
            self._cond.notify_all()

    def add_info(self, msg: Any) -> None:
        """Offer a camera_info; kept by stamp, the newest also serves frames without an exact match."""
        with self._cond:
            self._remember(self._infos, msg)
            self._cond.notify_all()

    def add_mask(self, msg: Any) -> None:
        """Offer a mask image; paired with the depth image of the same stamp."""
        with self._cond:
            self._remember(self._masks, msg)
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def close(self) -> None:
        """Wake and stop any waiting ``wait`` call."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _take(self) -> Frame | None:
        """The pending frame if it is complete (or its mask timed out), else None; caller holds the lock."""
        if self._depth is None:
            return None
        key = stamp_ns(self._depth.header)
        info = self._infos.get(key)
        if info is None and self._infos:
            info = next(reversed(self._infos.values()))
        mask = self._masks.get(key) if self.use_mask else None
        late = time.monotonic() - self._depth_time > self.sync_timeout_s
        if not late and (info is None or (self.use_mask and mask is None)):
            return None
        frame = Frame(self._depth, info, mask, mask_missing=self.use_mask and mask is None)
        self._depth = None
        return frame

    def wait(self, timeout: float) -> Frame | None:
        """Block up to ``timeout`` s for the newest complete frame; None on timeout or after ``close``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                frame = self._take()
                if frame is not None:
                    return frame
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                # re-check at least every 50 ms so a missing camera_info or mask times out on time
                self._cond.wait(min(left, 0.05))
        return None
