"""Model registry: architecture name -> builder function.

Builders are keyword-only functions returning an ``nn.Module`` that follows the GQ-CNN interface
(``input_size``, ``uses_depth``, ``forward(im, z=None) -> (B,)`` probabilities). Register one with
``@register_model("name")``; build one with ``get_model("name", **kwargs)``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder`` under ``name``; a name registered twice raises ValueError."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is already registered; registered: {', '.join(list_models())}")
        _BUILDERS[name] = builder
        return builder

    return decorator


def list_models() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_BUILDERS)


def get_model(name: str, **kwargs: object) -> nn.Module:
    """Build the architecture registered as ``name`` with ``kwargs``; unknown names raise ValueError."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(list_models())}") from None
    return builder(**kwargs)
