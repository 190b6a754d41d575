"""pip install of the ROS-free library (dexnet_core) and the `dexnet` command.

The ROS 2 package (interfaces and nodes) is built with ament_cmake: see CMakeLists.txt and README.md.
"""
from setuptools import find_packages, setup

setup(
    name="dexnet-core",
    version="0.1.0",
    description="Dex-Net grasp-quality networks (GQ-CNN, FC-GQ-CNN) in PyTorch.",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["dexnet_core", "dexnet_core.*"]),
    package_data={"dexnet_core": ["pretrained/*.pt", "pretrained/*.md", "pretrained/*.json"]},
    install_requires=["numpy", "torch", "pyyaml", "tqdm"],
    extras_require={
        "vision": ["torchvision"],
        "synth": ["trimesh", "manifold3d", "embreex", "pybullet", "opencv-python-headless", "scipy",
                  "rtree", "networkx"],
        "viz": ["matplotlib"],
        "log": ["tensorboard", "wandb"],
        "onnx": ["onnx", "onnxruntime", "onnxscript"],
        "bag": ["rosbags"],
        "dev": ["pytest", "ruff"],
    },
    entry_points={"console_scripts": ["dexnet = dexnet_core.cli:main"]},
)
