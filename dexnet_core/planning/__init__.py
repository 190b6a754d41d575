"""Grasp planning on depth images: preprocessing, metric rescale, FC-GQ-CNN heatmaps over jaw angles and
gripper depths, top-k with non-maximum suppression, and 3D grasp poses in the camera optical frame."""
