"""Training and evaluation of GQ-CNNs on Dex-Net datasets: config, loop, metrics, plots, commands."""
