import pytest
import torch

from dexnet_core.data.augment import AugmentConfig, augment_batch


def _crops(b=64):
    g = torch.Generator().manual_seed(0)
    im = 0.7 + 0.01 * torch.rand(b, 1, 32, 32, generator=g)
    im[:, :, :4, :] = 0.0  # missing depth rows stay missing
    return im


def test_flips_are_exact_symmetries():
    im = _crops()
    cfg = AugmentConfig(gp_noise=False)
    out = augment_batch(im, cfg, torch.Generator().manual_seed(1))
    variants = torch.stack([im, im.flip(2), im.flip(3), im.flip((2, 3))])  # (4, B, 1, 32, 32)
    match = (variants == out.unsqueeze(0)).flatten(2).all(-1)  # (4, B)
    assert match.any(0).all()
    assert match[0].float().mean() < 0.6  # most samples were transformed
    # label-relevant statistics (centre patch, depth histogram) are invariant
    centre = (slice(None), slice(None), slice(12, 20), slice(12, 20))
    torch.testing.assert_close(out[centre].mean((1, 2, 3)), im[centre].mean((1, 2, 3)))
    torch.testing.assert_close(out.sum((1, 2, 3)), im.sum((1, 2, 3)))


def test_rotate_90_reaches_all_eight_symmetries():
    im = _crops(512)
    out = augment_batch(im, AugmentConfig(gp_noise=False, rotate_90=True), torch.Generator().manual_seed(3))
    rots = [torch.rot90(im, k, (2, 3)) for k in range(4)]
    variants = torch.stack(rots + [r.flip(3) for r in rots])  # (8, B, 1, 32, 32): the dihedral group
    match = (variants == out.unsqueeze(0)).flatten(2).all(-1)  # (8, B)
    assert match.any(0).all()
    assert (match.float().mean(1) > 0.08).all()  # each of the eight is drawn (1/8 expected)
    with pytest.raises(ValueError, match="square"):
        augment_batch(torch.rand(4, 1, 32, 16), AugmentConfig(rotate_90=True), torch.Generator())


def test_gp_noise_smooth_zero_mean_and_only_on_valid_depth():
    im = _crops(512)
    cfg = AugmentConfig(rotate_180=False, flip_vertical=False, flip_horizontal=False)
    out = augment_batch(im, cfg, torch.Generator().manual_seed(2))
    noise = out - im
    assert torch.all(noise[:, :, :4, :] == 0)
    valid = noise[:, :, 4:, :]
    assert abs(valid.mean().item()) < 5e-4
    assert 0.002 < valid.std().item() < 0.006
    # neighbouring pixels are strongly correlated (upsampled from an 8x8 grid)
    corr = torch.corrcoef(torch.stack([valid[..., :-1].flatten(), valid[..., 1:].flatten()]))[0, 1]
    assert corr > 0.9


def test_generator_makes_it_reproducible():
    im, cfg = _crops(), AugmentConfig()
    a = augment_batch(im, cfg, torch.Generator().manual_seed(5))
    b = augment_batch(im, cfg, torch.Generator().manual_seed(5))
    c = augment_batch(im, cfg, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_config_and_shape():
    with pytest.raises(ValueError, match="gp_sigma"):
        AugmentConfig(gp_sigma=-1.0)
    with pytest.raises(ValueError, match="shape"):
        augment_batch(torch.zeros(32, 32), AugmentConfig(), torch.Generator())


def test_reference_mode_noise_is_in_normalised_units_on_pixels_deeper_than_the_mean():
    from dexnet_core.models.checkpoint import Normalization

    im = _crops(512)  # 0.70-0.71 m, first four rows missing
    norm = Normalization(0.705, 0.004)
    cfg = AugmentConfig(mode="reference", rotate_180=False, flip_vertical=False, flip_horizontal=False)
    noise = augment_batch(im, cfg, torch.Generator().manual_seed(2), norm) - im
    deeper = im > norm.im_mean
    assert torch.all(noise[~deeper] == 0) and (noise[deeper] != 0).float().mean() > 0.99
    # the same draw as our mode, scaled by im_std: 0.005 normalised = 0.02 mm here, not ~4 mm
    ours = augment_batch(im, AugmentConfig(rotate_180=False, flip_vertical=False, flip_horizontal=False),
                         torch.Generator().manual_seed(2)) - im
    torch.testing.assert_close(noise[deeper], ours[deeper] * norm.im_std, rtol=0, atol=1e-7)  # fp32 at 0.7 m
    assert 0.002 * norm.im_std < noise[deeper].std().item() < 0.006 * norm.im_std
    with pytest.raises(ValueError, match="normalisation"):
        augment_batch(im, cfg, torch.Generator())
    with pytest.raises(ValueError, match="mode must be one of"):
        AugmentConfig(mode="seed")


def test_parts_of_a_split_batch_are_augmented_as_the_whole_batch():
    im, cfg = _crops(48), AugmentConfig(rotate_90=True)
    whole = augment_batch(im, cfg, torch.Generator().manual_seed(4))
    gens = [torch.Generator().manual_seed(4) for _ in range(3)]
    parts = [augment_batch(im[16 * r:16 * (r + 1)], cfg, gens[r], span=(16 * r, 48)) for r in range(3)]
    torch.testing.assert_close(torch.cat(parts), whole, rtol=0, atol=1e-7)
    assert all(torch.equal(g.get_state(), gens[0].get_state()) for g in gens)  # the ranks' generators agree
    with pytest.raises(ValueError, match="span"):
        augment_batch(im[:16], cfg, torch.Generator(), span=(40, 48))
