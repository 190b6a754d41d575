"""dexnet_core: Dex-Net grasp-quality networks in PyTorch (models, data, training, planning). No ROS."""

__version__ = "0.1.0"
