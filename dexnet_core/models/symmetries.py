"""Label symmetries of grasp crops and test-time averaging over them.

A crop is centred on the grasp, so some turns and mirror images of it show the same grasp on the same
(or a mirror-image) object, with the same label:

- parallel jaw (jaw axis along the crop's columns): the 180-degree turn swaps the two jaws, and the two
  mirror images swap them or mirror the object across the jaw axis; a 90-degree turn would make the jaw
  axis vertical, so it is not one;
- suction (a round cup on the crop centre): all four 90-degree turns and their mirror images.

Each symmetry is ``(k, mirror)``: ``torch.rot90`` by k quarter turns over the last two dims, then, when
``mirror``, a flip of the last dim. Averaging a model's scores over a group of them is test-time
augmentation that keeps the meaning of the score (it still estimates P(label > threshold)).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Symmetry = tuple[int, bool]

_TURN = ((0, False), (2, False))
SYMMETRY_GROUPS: dict[str, dict[int, tuple[Symmetry, ...]]] = {
    "parallel_jaw": {1: ((0, False),), 2: _TURN, 4: _TURN + ((0, True), (2, True))},
    "suction": {1: ((0, False),), 2: _TURN, 4: tuple((k, False) for k in range(4)),
                8: tuple((k, m) for m in (False, True) for k in range(4))},
}


def symmetry_group(gripper: str, count: int) -> tuple[Symmetry, ...]:
    """The ``count`` symmetries averaged for ``gripper``; ValueError for a count the gripper lacks."""
    groups = SYMMETRY_GROUPS.get(gripper)
    if groups is None:
        raise ValueError(f"unknown gripper {gripper!r}; expected one of {sorted(SYMMETRY_GROUPS)}")
    if count not in groups:
        raise ValueError(f"a {gripper} grasp has symmetry counts {tuple(groups)}, got {count!r}")
    return groups[count]


def symmetry_mean(score: Callable[..., torch.Tensor], im: torch.Tensor, group: tuple[Symmetry, ...],
                  cells: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``score`` over the ``group`` transforms of ``im`` (..., H, W), each result turned back.

    ``score`` maps images to maps (..., Ho, Wo) whose cells transform with the image: a FC-GQ-CNN heatmap
    at a stride s with (H - 32) and (W - 32) divisible by s (every planner canvas), or a (B, 1, 1) score of
    32x32 crops. Cell (i, j) of the result is then the mean quality of the transformed crops of cell (i, j),
    at ``len(group)`` times the cost. With ``cells`` (Ho, Wo), ``score`` is called as ``score(x, c)`` with
    ``c`` the cells turned like ``x`` (the cells a heatmap is to score).
    """
    if len(group) == 1 and group[0] == (0, False):  # a single pass: no copies
        return score(im) if cells is None else score(im, cells)
    total = None
    for k, mirror in group:
        x = torch.rot90(im, k, (-2, -1))
        x = x.flip(-1) if mirror else x
        if cells is None:
            q = score(x)
        else:
            c = torch.rot90(cells, k, (-2, -1))
            q = score(x, c.flip(-1) if mirror else c)
        q = torch.rot90(q.flip(-1) if mirror else q, -k, (-2, -1))
        total = q if total is None else total + q
    return total / len(group)
