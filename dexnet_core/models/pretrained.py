"""Shipped default models: ``dexnet_core/pretrained/<name>.pt`` with a model card ``<name>.md``.

``load_checkpoint("<name>")`` resolves these names; the defaults are "dexnet2_pj_small" (parallel jaw)
and "dexnet3_suction_small" (suction).
"""

from __future__ import annotations

from pathlib import Path

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
DEFAULT_MODELS = {"parallel_jaw": "dexnet2_pj_small", "suction": "dexnet3_suction_small"}  # gripper -> name


def check_gripper(model: str, model_gripper: str, gripper: str) -> None:
    """Refuse to plan for ``gripper`` with ``model``, a model for ``model_gripper`` (ValueError, one line).

    The one check the heatmap node, `dexnet plan` and `dexnet sim` apply to a model and the gripper asked for.
    """
    if model_gripper != gripper:
        raise ValueError(f"model '{model}' is a {model_gripper} model but the gripper is {gripper}")


def list_pretrained() -> list[str]:
    """Names of the shipped models (files ``<name>.pt`` in dexnet_core/pretrained/), sorted."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))


def pretrained_path(name: str) -> Path:
    """Path of the shipped model ``name``; unknown names raise ValueError listing the shipped ones."""
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.is_file():
        raise ValueError(f"no shipped model {name!r}; shipped: {', '.join(list_pretrained()) or 'none'}")
    return path


def model_card(name: str) -> str:
    """Text of the model card ``<name>.md`` ("" when the model ships without one)."""
    card = pretrained_path(name).with_suffix(".md")
    return card.read_text() if card.is_file() else ""
