"""RViz markers for planned grasps (a gripper outline per grasp, coloured by quality: red 0 -> green 1) and
for the planner's automatic workspace (the support-plane patches and the workspace box)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.planning.grasp import Grasp
from dexnet_core.planning.workspace import Workspace
from dexnet_ros.conversions import grasp_pose

# Gripper outline in the grasp frame (metres): z = approach into the scene, y = jaw closing axis.
FINGER_LENGTH_M = 0.05   # finger length above the grasp centre
TIP_BELOW_M = 0.01       # how far the fingertips reach past the grasp centre
STEM_LENGTH_M = 0.06     # wrist stem above the palm
SUCTION_CUP_M = 0.02     # suction cup diameter
LINE_WIDTH_M = 0.004


def quality_color(q: float, alpha: float = 1.0) -> ColorRGBA:
    """Quality in [0, 1] -> colour from red (0) through yellow to green (1)."""
    q = min(max(float(q), 0.0), 1.0)
    return ColorRGBA(r=min(1.0, 2.0 * (1.0 - q)), g=min(1.0, 2.0 * q), b=0.0, a=alpha)


def _p(x: float, y: float, z: float) -> Point:
    return Point(x=float(x), y=float(y), z=float(z))


def _jaw_outline(width: float) -> list[Point]:
    """LINE_LIST points of a parallel-jaw gripper: two fingers, palm and stem."""
    h = width / 2.0
    palm = -FINGER_LENGTH_M
    return [_p(0, -h, TIP_BELOW_M), _p(0, -h, palm), _p(0, h, TIP_BELOW_M), _p(0, h, palm),
            _p(0, -h, palm), _p(0, h, palm), _p(0, 0, palm), _p(0, 0, palm - STEM_LENGTH_M)]


def grasp_markers(grasps: Sequence[Grasp], header: Header, namespace: str = "grasps",
                  lifetime_s: float = 0.0) -> MarkerArray:
    """One marker per grasp (plus a DELETEALL first so stale grasps disappear), best grasp drawn thickest.

    Parallel jaw: LINE_LIST gripper outline at the grasp pose. Suction: ARROW along the approach axis
    ending at the contact point.
    """
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    markers = [Marker(header=header, ns=namespace, action=Marker.DELETEALL)]
    for i, g in enumerate(grasps):
        m = Marker(header=header, ns=namespace, id=i, action=Marker.ADD, pose=grasp_pose(g),
                   color=quality_color(g.q_value), lifetime=life, frame_locked=False)
        thick = 2.0 if i == 0 else 1.0
        if g.gripper == "suction":
            m.type = Marker.ARROW
            # arrow from 8 cm above the contact to the contact, along the grasp z axis
            m.points = [_p(0, 0, -0.08), _p(0, 0, 0)]
            m.scale = Vector3(x=0.006 * thick, y=SUCTION_CUP_M, z=0.02)
        else:
            m.type = Marker.LINE_LIST
            m.points = _jaw_outline(g.width)
            m.scale = Vector3(x=LINE_WIDTH_M * thick, y=0.0, z=0.0)
        markers.append(m)
    return MarkerArray(markers=markers)


def workspace_markers(workspace: Workspace, intrinsics: CameraIntrinsics, header: Header,
                      namespace: str = "workspace") -> MarkerArray:
    """DELETEALL, then the support plane's supported regions as translucent blue patches (TRIANGLE_LIST, in
    the camera frame: their image outlines cast onto the plane) and the workspace box as a yellow wire box
    (LINE_LIST)."""
    markers = [Marker(header=header, ns=namespace, action=Marker.DELETEALL)]
    plane = workspace.plane
    if plane is not None:
        n = np.asarray(plane.normal)
        patch = Marker(header=header, ns=namespace, id=0, type=Marker.TRIANGLE_LIST, action=Marker.ADD,
                       scale=Vector3(x=1.0, y=1.0, z=1.0), color=ColorRGBA(r=0.2, g=0.5, b=1.0, a=0.35))
        patch.pose.orientation.w = 1.0
        for poly in plane.polygons_px:
            rays = np.column_stack([(poly[:, 0] - intrinsics.cx) / intrinsics.fx,
                                    (poly[:, 1] - intrinsics.cy) / intrinsics.fy, np.ones(len(poly))])
            along = rays @ n
            if (along >= 0).any():  # an outline point whose ray never meets the plane
                continue
            pts = rays * (-plane.offset / along)[:, None]
            for k in range(1, len(pts) - 1):  # a fan of the convex outline
                patch.points += [_p(*pts[0]), _p(*pts[k]), _p(*pts[k + 1])]
        markers.append(patch)
    if workspace.box is not None:
        x0, x1, y0, y1, z0, z1 = workspace.box
        corners = [(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)]
        edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
        box = Marker(header=header, ns=namespace, id=1, type=Marker.LINE_LIST, action=Marker.ADD,
                     scale=Vector3(x=LINE_WIDTH_M, y=0.0, z=0.0), color=ColorRGBA(r=1.0, g=0.9, b=0.1, a=1.0))
        box.pose.orientation.w = 1.0
        box.points = [_p(*corners[i]) for edge in edges for i in edge]
        markers.append(box)
    return MarkerArray(markers=markers)
