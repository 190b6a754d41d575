"""Rotated canvases, cell -> pixel maps and heatmap rendering."""

import math

import numpy as np
import pytest
import torch

from dexnet_core.planning.heatmaps import (
    AngleGrid,
    cell_to_input,
    fit_canvas,
    grid_shape,
    make_canvas,
    render_heatmap,
)
from dexnet_core.planning.rescale import SceneScale


def _bilinear(img, x, y):
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    return ((1 - fx) * (1 - fy) * img[y0, x0] + fx * (1 - fy) * img[y0, x0 + 1]
            + (1 - fx) * fy * img[y0 + 1, x0] + fx * fy * img[y0 + 1, x0 + 1])


def test_angle_zero_canvas_is_an_integer_shift():
    scene = torch.rand(50, 70, dtype=torch.float32)
    canvas = make_canvas(0.0, (10, 5, 60, 44), stride=2)
    m = canvas.canvas_to_scene()
    np.testing.assert_allclose(m[:, :2], np.eye(2))
    dx, dy = m[:, 2]
    assert dx == round(dx) and dy == round(dy)
    out = canvas.sample(scene)[0, 0].numpy()
    dx, dy = int(dx), int(dy)
    ys, xs = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
    inside = (xs + dx >= 0) & (xs + dx < 70) & (ys + dy >= 0) & (ys + dy < 50)
    np.testing.assert_array_equal(out[inside], scene.numpy()[(ys + dy)[inside], (xs + dx)[inside]])


@pytest.mark.parametrize("angle", [math.pi / 2, 0.3, 2.5])
def test_rotated_canvas_samples_the_scene_along_the_jaw_axis(angle):
    rng = np.random.default_rng(0)
    scene = rng.random((60, 80))
    canvas = make_canvas(angle, (20, 15, 59, 44), stride=4)
    out = canvas.sample(torch.from_numpy(scene).float())[0, 0].numpy()
    m = canvas.canvas_to_scene()
    # one canvas pixel to the right is one scene pixel along (cos a, sin a)
    np.testing.assert_allclose(m[:, 0], [math.cos(angle), math.sin(angle)], atol=1e-12)
    cy, cx = out.shape[0] // 2, out.shape[1] // 2
    for qx, qy in [(cx, cy), (cx + 5, cy - 3), (cx - 7, cy + 6)]:
        px, py = m @ [qx, qy, 1.0]
        assert out[qy, qx] == pytest.approx(_bilinear(scene, px, py), abs=1e-5)


@pytest.mark.parametrize("angle, stride", [(0.0, 1), (0.7, 4), (math.pi / 2, 2), (2.9, 3)])
def test_cells_cover_the_region_and_map_to_input_pixels(angle, stride):
    scale = SceneScale(sx=0.5, sy=0.5, width=80, height=60)
    region = (10, 8, 69, 51)
    canvas = make_canvas(angle, region, stride)
    ho, wo = grid_shape(canvas, stride)
    a = cell_to_input(canvas, scale, stride)
    # cell (i, j) -> canvas pixel (j*s + 16, i*s + 16) -> scene -> input, composed by hand
    i, j = 2, 3
    px, py = canvas.canvas_to_scene() @ [j * stride + 16, i * stride + 16, 1.0]
    np.testing.assert_allclose(a @ [j, i, 1.0], [(px + 0.5) / 0.5 - 0.5, (py + 0.5) / 0.5 - 0.5], atol=1e-9)
    # every region pixel lies within half a cell of a cell centre
    inv = np.linalg.inv(np.vstack([a, [0, 0, 1]]))
    ys, xs = np.mgrid[region[1] : region[3] + 1, region[0] : region[2] + 1]
    u, v = (xs + 0.5) / 0.5 - 0.5, (ys + 0.5) / 0.5 - 0.5
    jj = inv[0, 0] * u + inv[0, 1] * v + inv[0, 2]
    ii = inv[1, 0] * u + inv[1, 1] * v + inv[1, 2]
    assert jj.min() >= -0.5 and jj.max() <= wo - 0.5 and ii.min() >= -0.5 and ii.max() <= ho - 0.5


@pytest.mark.parametrize("angle", [0.0, 0.5, math.pi / 2, 2.2])
def test_a_fitted_canvas_keeps_the_cells_around_the_points(angle):
    stride, scale = 4, SceneScale(sx=1.0, sy=1.0, width=100, height=80)
    full = make_canvas(angle, (0, 0, 99, 79), stride)
    points = np.array([[20.0, 10.0], [60.0, 30.0], [35.0, 50.0]])  # a triangle in the region's corner
    fitted = fit_canvas(full, points, stride)
    assert fitted.width * fitted.height < 0.6 * full.width * full.height
    # every fitted cell is a cell of the full canvas: the same lattice, shifted by whole cells
    to_full = np.linalg.inv(np.vstack([cell_to_input(full, scale, stride), [0, 0, 1]]))
    ho, wo = grid_shape(fitted, stride)
    j, i = np.meshgrid(np.arange(wo), np.arange(ho))
    u, v = cell_to_input(fitted, scale, stride) @ np.stack([j.ravel(), i.ravel(), np.ones(j.size)])
    jf, i_f = (to_full @ np.stack([u, v, np.ones(u.size)]))[:2]
    np.testing.assert_allclose(jf - j.ravel(), np.rint(jf[0]), atol=1e-9)
    np.testing.assert_allclose(i_f - i.ravel(), np.rint(i_f[0]), atol=1e-9)
    dj, di = round(jf[0]), round(i_f[0])
    # and samples the scene as the full canvas does there
    scene = torch.rand(80, 100)
    whole = full.sample(scene)[0, 0]
    part = whole[di * stride : di * stride + fitted.height, dj * stride : dj * stride + fitted.width]
    torch.testing.assert_close(fitted.sample(scene)[0, 0], part, atol=1e-6, rtol=0)
    # each point lies among the fitted cells
    to_fitted = np.linalg.inv(np.vstack([cell_to_input(fitted, scale, stride), [0, 0, 1]]))
    pj, pi = (to_fitted @ np.stack([points[:, 0], points[:, 1], np.ones(3)]))[:2]  # sx = 1: input = scene
    assert pj.min() >= 0 and pj.max() <= wo - 1 and pi.min() >= 0 and pi.max() <= ho - 1


def test_render_puts_each_cell_on_its_nearest_pixels():
    scale = SceneScale(sx=0.5, sy=0.5, width=40, height=30)
    canvas = make_canvas(0.4, (0, 0, 39, 29), stride=2)
    shape = grid_shape(canvas, 2)
    rng = np.random.default_rng(0)
    quality = rng.random(shape).astype(np.float32) * 0.9 + 0.05
    grid = AngleGrid(0.4, quality, np.full(shape, np.nan, np.float32), cell_to_input(canvas, scale, 2))
    heat = render_heatmap([grid], (60, 80), (5, 4, 74, 55))
    assert (heat[:4] == 0).all() and (heat[:, 75:] == 0).all()
    u, v = grid.cell_centers()
    inside = (u > 5.5) & (u < 73.5) & (v > 4.5) & (v < 54.5)
    np.testing.assert_array_equal(heat[np.rint(v[inside]).astype(int), np.rint(u[inside]).astype(int)],
                                  quality[inside])
    # a second grid with higher values wins the max
    better = AngleGrid(0.4, quality + 0.01, grid.gripper_depth, grid.to_input)
    np.testing.assert_allclose(render_heatmap([grid, better], (60, 80), (5, 4, 74, 55))[heat > 0],
                               heat[heat > 0] + 0.01, atol=1e-6)
