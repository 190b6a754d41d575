"""Closed-loop grasp benchmark in pybullet: a tray of held-out objects, floating grippers, policies, reports.

Needs the ``synth`` extra (pybullet, trimesh, embreex); nothing here is imported by ``import dexnet_core``.
"""
