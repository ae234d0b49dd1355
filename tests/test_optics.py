"""Physics of the virtual microscope's image formation (coursekit.microscope.optics)."""

import numpy as np
import pytest

from coursekit.microscope import optics

PX = 0.25  # um
N_MEDIUM = 1.337
WAVELENGTH = 0.55


def disk_masks(shape, radius_px):
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    r = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2)
    return r


@pytest.fixture(scope="module")
def weak_disk():
    """A weak phase disk: 0.1 rad, radius 2 um, no absorption."""
    return optics.phase_disk((128, 128), radius_px=8, phase_rad=0.1)


# ---------------------------------------------------------------------------
# refractive index, phase
# ---------------------------------------------------------------------------


def test_refractive_index_sums_structures():
    a = np.zeros((4, 5), np.float32)
    a[1, 1] = 1.0
    b = np.full((4, 5), 0.5, np.float32)
    n = optics.refractive_index({"dna": a, "er": b}, {"dna": 0.02, "er": 0.01, "unused": 1.0})
    assert n.dtype == np.float32 and n.shape == (4, 5)
    np.testing.assert_allclose(n[0, 0], N_MEDIUM + 0.005, atol=1e-6)
    np.testing.assert_allclose(n[1, 1], N_MEDIUM + 0.025, atol=1e-6)
    n2 = optics.refractive_index({"dna": a}, {"dna": 0.02}, n_medium=1.33)
    np.testing.assert_allclose(n2[0, 0], 1.33, atol=1e-6)


def test_refractive_index_errors():
    a = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="no delta_n for structure.*'mito'"):
        optics.refractive_index({"mito": a}, {"dna": 0.02})
    with pytest.raises(ValueError, match="same shape"):
        optics.refractive_index({"dna": a, "er": np.zeros((4, 4))}, {"dna": 0.02, "er": 0.01})
    with pytest.raises(ValueError, match="at least one"):
        optics.refractive_index({}, {"dna": 0.02})
    with pytest.raises(TypeError):
        optics.refractive_index(a, {"dna": 0.02})


def test_phase_from_ri_and_disk():
    ri = np.full((10, 8, 8), N_MEDIUM, np.float32)
    ri[:, 2:6, 2:6] += 0.01
    phi = optics.phase_from_ri(ri, dz_um=0.5, wavelength_um=0.5, n_medium=N_MEDIUM)
    assert phi.shape == (8, 8)
    np.testing.assert_allclose(phi[3, 3], 2 * np.pi * 0.01 * 5.0 / 0.5, rtol=1e-4)
    np.testing.assert_allclose(phi[0, 0], 0.0, atol=1e-5)

    d = optics.phase_disk((32, 32), radius_px=5, phase_rad=0.3)
    assert d.dtype == np.float32 and d.max() == pytest.approx(0.3) and d.min() == 0
    s = optics.phase_disk((32, 32), radius_px=5, phase_rad=0.3, profile="sphere")
    assert s.max() <= 0.3 + 1e-6 and s[0, 0] == 0
    with pytest.raises(ValueError, match="profile"):
        optics.phase_disk((32, 32), radius_px=5, phase_rad=0.3, profile="cube")


# ---------------------------------------------------------------------------
# bright field
# ---------------------------------------------------------------------------


def test_empty_field_is_one():
    zero = np.zeros((64, 64), np.float32)
    bf = optics.brightfield_thin(zero, pixel_size_um=0.3, defocus_um=(-3.0, 0.0, 3.0))
    assert bf.shape == (3, 64, 64) and bf.dtype == np.float32
    np.testing.assert_allclose(bf, 1.0, atol=1e-3)
    pc = optics.phase_contrast_thin(zero, pixel_size_um=0.3)
    np.testing.assert_allclose(pc, 1.0, atol=1e-3)
    dic = optics.dic_thin(zero, pixel_size_um=0.3)
    np.testing.assert_allclose(dic, 1.0, atol=1e-3)
    ri = np.full((6, 32, 32), N_MEDIUM, np.float32)
    st = optics.brightfield_stack(ri, voxel_size_um=(0.5, 0.3, 0.3), focal_planes_um=(-2, 0, 2))
    np.testing.assert_allclose(st, 1.0, atol=1e-3)
    pcs = optics.phase_contrast_stack(ri, voxel_size_um=(0.5, 0.3, 0.3))
    np.testing.assert_allclose(pcs, 1.0, atol=1e-3)


@pytest.mark.parametrize("n_illumination", [1, 5])
def test_weak_phase_disk_invisible_in_focus_and_flips_with_defocus(weak_disk, n_illumination):
    dz = 2.0
    img = optics.brightfield_thin(
        weak_disk, pixel_size_um=PX, defocus_um=(-dz, 0.0, dz), n_illumination=n_illumination
    )
    below, focus, above = img - 1.0
    # nearly invisible in focus, much weaker than out of focus
    assert np.abs(focus).max() < 0.005
    assert np.abs(focus).max() < 0.15 * np.abs(above).max()
    assert np.abs(above).max() > 0.02
    # contrast inside the disk flips sign between -dz and +dz, with a similar magnitude
    inside = weak_disk > 0.05
    c_above = float(above[inside].mean())
    c_below = float(below[inside].mean())
    assert c_above > 0.005 and c_below < -0.005  # positive phase: bright beyond focus
    assert abs(c_above + c_below) < 0.2 * abs(c_above)
    # and pixel by pixel the defocused images are nearly mirror images
    assert np.corrcoef(above.ravel(), below.ravel())[0, 1] < -0.9


def test_absorbing_object_is_visible_in_focus():
    amp = np.ones((64, 64), np.float32)
    amp[24:40, 24:40] = np.sqrt(0.8)
    img = optics.brightfield_thin(np.zeros((64, 64)), amplitude=amp, pixel_size_um=0.3)[0]
    assert img[32, 32] == pytest.approx(0.8, abs=0.02)
    assert img[2, 2] == pytest.approx(1.0, abs=0.02)


def test_larger_condenser_aperture_reduces_defocus_contrast(weak_disk):
    kw = dict(pixel_size_um=PX, defocus_um=(3.0,), n_illumination=9)
    narrow = optics.brightfield_thin(weak_disk, na_condenser=0.05, **kw)
    wide = optics.brightfield_thin(weak_disk, na_condenser=0.35, **kw)
    assert np.abs(wide - 1).max() < np.abs(narrow - 1).max()


def test_brightfield_stack_thin_slab_matches_thin_model():
    """A single-slice object: the multi-slice model equals the thin-object model."""
    dz = 0.5
    phi = optics.phase_disk((96, 96), radius_px=8, phase_rad=0.1)
    ri = np.full((9, 96, 96), N_MEDIUM, np.float32)
    ri[4] += phi * WAVELENGTH / (2 * np.pi * dz)  # phase 0.1 rad in one slice
    stack = optics.brightfield_stack(ri, voxel_size_um=(dz, PX, PX))
    assert stack.shape == (9, 96, 96)
    thin = optics.brightfield_thin(phi, pixel_size_um=PX, defocus_um=(-2.0, 0.0, 2.0))
    np.testing.assert_allclose(stack[[0, 4, 8]], thin, atol=2e-4)
    # in focus at the slab's slice, contrast flips between slices below and above
    inside = phi > 0.05
    assert np.abs(stack[4] - 1).max() < 0.005
    assert (stack[8] - 1)[inside].mean() > 0.005 > -0.005 > (stack[0] - 1)[inside].mean()
    # explicit focal planes
    planes = optics.brightfield_stack(ri, voxel_size_um=(dz, PX, PX), focal_planes_um=[0.0, 4.0])
    np.testing.assert_allclose(planes, stack[[0, 8]], atol=1e-5)


def test_brightfield_stack_thick_sphere_looks_like_projection():
    """A weak thick sphere in focus at its centre resembles the thin projection."""
    dz = 0.5
    z, y, x = np.mgrid[:16, :64, :64]
    r = np.sqrt(((z - 7.5) * dz) ** 2 + ((y - 31.5) * PX) ** 2 + ((x - 31.5) * PX) ** 2)
    ri = (N_MEDIUM + 0.005 * (r < 2.5)).astype(np.float32)
    stack = optics.brightfield_stack(
        ri, voxel_size_um=(dz, PX, PX), focal_planes_um=(3.75 - 3, 3.75 + 3)
    )
    phi = optics.phase_from_ri(ri, dz_um=dz, wavelength_um=WAVELENGTH)
    thin = optics.brightfield_thin(phi, pixel_size_um=PX, defocus_um=(-3.0, 3.0))
    for s, t in zip(stack, thin):
        assert np.corrcoef(s.ravel(), t.ravel())[0, 1] > 0.95


# ---------------------------------------------------------------------------
# phase contrast and DIC
# ---------------------------------------------------------------------------


def test_phase_contrast_dark_disk_with_bright_halo():
    shape, radius_px = (128, 128), 8  # 2 um radius
    phi = optics.phase_disk(shape, radius_px=radius_px, phase_rad=0.3)
    pc = optics.phase_contrast_thin(phi, pixel_size_um=PX)
    assert pc.shape == shape and pc.dtype == np.float32
    r = disk_masks(shape, radius_px)
    disk = r < radius_px - 2
    halo = (r > radius_px + 1) & (r < radius_px + 1 + 2.0 / PX)  # 2 um ring just outside
    far = r > 50
    assert pc[disk].mean() < 0.8  # dense object dark (positive phase contrast)
    assert pc[halo].mean() > 1.05  # bright halo just outside the edge
    assert abs(pc[far].mean() - 1.0) < 0.03  # background ~ 1
    # negative phase contrast reverses the object's contrast
    neg = optics.phase_contrast_thin(phi, pixel_size_um=PX, ring_phase=-np.pi / 2)
    assert neg[disk].mean() > 1.2


def test_phase_contrast_shade_off_for_large_objects():
    """The centre of a large flat object fades towards the background (shade-off)."""
    shape = (256, 256)
    phi = optics.phase_disk(shape, radius_px=60, phase_rad=0.2)  # 15 um radius
    pc = optics.phase_contrast_thin(phi, pixel_size_um=PX)
    r = disk_masks(shape, 60)
    centre = pc[r < 5].mean()
    near_edge = pc[(r > 52) & (r < 57)].mean()
    assert 1.0 - centre < 0.6 * (1.0 - near_edge)


def test_phase_contrast_stack_matches_thin():
    dz = 0.5
    phi = optics.phase_disk((64, 64), radius_px=6, phase_rad=0.2)
    ri = np.full((3, 64, 64), N_MEDIUM, np.float32)
    ri[1] += phi * WAVELENGTH / (2 * np.pi * dz)
    st = optics.phase_contrast_stack(ri, voxel_size_um=(dz, PX, PX), focal_planes_um=[dz])
    thin = optics.phase_contrast_thin(phi, pixel_size_um=PX)
    np.testing.assert_allclose(st[0], thin, atol=2e-4)


def test_dic_shows_gradient_with_opposite_edges():
    phi = optics.phase_disk((96, 96), radius_px=10, phase_rad=0.5, profile="sphere")
    dic = optics.dic_thin(phi, pixel_size_um=PX, shear_angle_deg=0.0)  # shear along x
    row = dic[48] - 1.0
    left, right = row[38:48].mean(), row[48:58].mean()
    assert left * right < 0 and min(abs(left), abs(right)) > 0.015
    assert abs(left + right) < 0.3 * abs(left)  # antisymmetric relief
    assert abs(dic[48, :5].mean() - 1.0) < 0.02


# ---------------------------------------------------------------------------
# fluorescence PSF and blur
# ---------------------------------------------------------------------------


def test_psf_sigmas_paraxial_limit_and_values():
    lam, n = 0.52, 1.33
    sz, sxy = optics.fluorescence_psf_sigmas(lam, 0.05, n)
    k = 2 * np.pi / lam
    assert sxy == pytest.approx(np.sqrt(2) / (k * 0.05), rel=1e-3)
    assert sz == pytest.approx(2 * np.sqrt(6) * n / (k * 0.05**2), rel=1e-3)
    sz8, sxy8 = optics.fluorescence_psf_sigmas(lam, 0.8, n)
    assert sxy8 == pytest.approx(0.145, abs=0.002)
    assert sz8 == pytest.approx(0.758, abs=0.01)
    assert sz8 > 3 * sxy8  # anisotropic
    sz12, sxy12 = optics.fluorescence_psf_sigmas(lam, 1.2, n)
    assert sxy12 < sxy8 and sz12 < sz8
    with pytest.raises(ValueError, match="na"):
        optics.fluorescence_psf_sigmas(lam, 1.4, 1.33)


def test_blur_preserves_sum_and_has_requested_sigma():
    v = np.zeros((31, 64, 64), np.float32)
    v[15, 32, 32] = 1.0
    vox = (0.2, 0.1, 0.1)
    b = optics.blur(v, sigma_um=(0.6, 0.15), voxel_size_um=vox)
    assert b.shape == v.shape and b.dtype == np.float32
    assert b.sum() == pytest.approx(1.0, abs=1e-3)
    z = (np.arange(31) - 15) * vox[0]
    x = (np.arange(64) - 32) * vox[2]
    assert np.sqrt((b.sum(axis=(1, 2)) * z**2).sum()) == pytest.approx(0.6, rel=0.05)
    assert np.sqrt((b.sum(axis=(0, 1)) * x**2).sum()) == pytest.approx(0.15, rel=0.05)
    b2 = optics.blur(v[15], sigma_um=0.15, voxel_size_um=0.1)
    np.testing.assert_allclose(b2, b.sum(axis=0), atol=1e-5)
    np.testing.assert_array_equal(optics.blur(v, sigma_um=0, voxel_size_um=vox), v)
    with pytest.raises(ValueError, match="sigma_um"):
        optics.blur(v, sigma_um=(1, 2, 3, 4), voxel_size_um=vox)
    with pytest.raises(ValueError, match="voxel_size_um"):
        optics.blur(v, sigma_um=0.1, voxel_size_um=(0.1, -0.1, 0.1))


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_bad_inputs_give_clear_errors(weak_disk):
    with pytest.raises(ValueError, match="2D"):
        optics.brightfield_thin(np.zeros((2, 8, 8)), pixel_size_um=0.3)
    with pytest.raises(ValueError, match="2D"):
        optics.phase_contrast_thin(np.zeros(8), pixel_size_um=0.3)
    with pytest.raises(ValueError, match="pixel_size_um"):
        optics.brightfield_thin(weak_disk, pixel_size_um=-0.3)
    with pytest.raises(ValueError, match="na_objective must be smaller than n_medium"):
        optics.brightfield_thin(weak_disk, pixel_size_um=0.3, na_objective=1.4)
    with pytest.raises(ValueError, match="na_condenser"):
        optics.brightfield_thin(weak_disk, pixel_size_um=0.3, na_condenser=1.5)
    with pytest.raises(ValueError, match="same shape"):
        optics.brightfield_thin(weak_disk, amplitude=np.ones((4, 4)), pixel_size_um=0.3)
    with pytest.raises(ValueError, match="finite"):
        optics.brightfield_thin(np.full((8, 8), np.nan), pixel_size_um=0.3)
    with pytest.raises(ValueError, match="3D"):
        optics.brightfield_stack(np.full((8, 8), 1.34), voxel_size_um=(1, 1, 1))
    with pytest.raises(ValueError, match="refractive indices"):
        optics.brightfield_stack(np.zeros((2, 8, 8)), voxel_size_um=(1, 1, 1))
    with pytest.raises(TypeError, match="voxel_size_um"):
        optics.brightfield_stack(np.full((2, 8, 8), 1.34), voxel_size_um=0.3)
    with pytest.raises(ValueError, match="phase ring must fit"):
        optics.phase_contrast_thin(weak_disk, pixel_size_um=0.3, ring_radius_frac=0.95)
    with pytest.raises(ValueError, match="ring_transmission"):
        optics.phase_contrast_thin(weak_disk, pixel_size_um=0.3, ring_transmission=2.0)
    with pytest.raises(ValueError, match="n_illumination"):
        optics.brightfield_thin(weak_disk, pixel_size_um=0.3, n_illumination=0)
