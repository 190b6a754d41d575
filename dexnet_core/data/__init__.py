"""Dex-Net tensor datasets: shard reader, memory-mapped cache, splits, batched augmentation, batch loader."""
