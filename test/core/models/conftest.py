"""Shared helpers for the model tests: the reference re-implementation from bench/."""

import importlib.util
from pathlib import Path

import pytest
import torch

REFERENCE = Path(__file__).resolve().parents[3] / "bench" / "reference_impl.py"


@pytest.fixture(scope="session")
def reference():
    """bench/reference_impl.py as a module (DexNetBase, BaseFCGQCNN, HighResFCGQCNN, fake_fc_gqcnn)."""
    spec = importlib.util.spec_from_file_location("reference_impl", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
