"""GQ-CNN families, fully convolutional conversion, checkpoint I/O and the model registry."""

from dexnet_core.models import efficientnet, gqcnn  # noqa: F401  (registers the built-in architectures)
from dexnet_core.models.registry import get_model, list_models, register_model

__all__ = ["get_model", "list_models", "register_model"]
