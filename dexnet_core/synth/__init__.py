"""Synthetic Dex-Net datasets: meshes -> grasps -> analytic labels -> rendered crops -> Dex-Net tensors."""
