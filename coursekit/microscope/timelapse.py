"""Time-lapse: a cell dividing over frames while the stage drifts.

:func:`simulate_timelapse` follows the same cells through ``n_frames`` frames. One cell
goes through mitosis: interphase, prophase (chromatin condenses, centrosomes separate),
metaphase (a rounded cell, chromosomes in a plate, no nuclear envelope), anaphase
(chromatids pulled apart), telophase (a furrow, daughter nuclei re-forming) and finally two
daughter cells in interphase. The other cells stay in interphase. The stage drifts by a
constant vector per frame, so everything (cells and their textures) moves together; every
frame is a full :func:`~coursekit.microscope.field.simulate_field` with its own camera
noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from coursekit._validation import check_choice, check_int
from coursekit.microscope.field import simulate_field
from coursekit.microscope.specimen import CELL_TYPES, CellPlan, _check_shape, plan_cells

__all__ = ["TimeLapse", "simulate_timelapse", "MITOSIS_SCHEDULE"]

# Fractions of the movie spent in each stage of the dividing cell (the rest, "daughters",
# shows the two daughter cells). Real durations are roughly: prophase 10-20 min,
# metaphase 10-30 min, anaphase 3-5 min, telophase 10 min; a movie around a division
# compresses interphase.
MITOSIS_SCHEDULE = (
    ("interphase", 0.14),
    ("prophase", 0.14),
    ("metaphase", 0.20),
    ("anaphase", 0.12),
    ("telophase", 0.16),
    ("daughters", 0.24),
)


@dataclass(eq=False, repr=False)
class TimeLapse:
    """A simulated time-lapse.

    Attributes
    ----------
    transmitted, transmitted_clean : numpy.ndarray
        float32 counts, ``(T, n_planes, Y, X)`` (2D) or ``(T, Z, Y, X)`` (3D).
    recorded, clean : dict of str to numpy.ndarray
        Fluorescence per label, ``(T, Y, X)`` or ``(T, Z, Y, X)``.
    cell_mask, nucleus_mask : numpy.ndarray
        int32 instance labels per frame, ``(T, Y, X)`` or ``(T, Z, Y, X)``. The dividing
        cell keeps its id until telophase; its daughters get new ids.
    states : list of dict
        Per frame, ``{cell id: state}`` of the cells in view.
    cells : list of list of CellInfo
        Per frame, the cells in view.
    stage_um : numpy.ndarray
        ``(T, 2)``: the specimen's displacement ``(dy, dx)`` in micrometres at each frame.
    mitotic_id : int
        Id of the dividing cell; ``daughter_ids`` the ids of its two daughters.
    metadata : dict
        The first frame's field metadata plus ``drift_um_per_frame``, ``schedule``.
    """

    transmitted: np.ndarray
    transmitted_clean: np.ndarray
    modality: str
    recorded: dict
    clean: dict
    cell_mask: np.ndarray
    nucleus_mask: np.ndarray
    states: list
    cells: list
    stage_um: np.ndarray
    mitotic_id: int
    daughter_ids: tuple
    metadata: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.cell_mask.shape[0])

    def state_of(self, cell_id: int) -> list:
        """State of one cell in every frame (None where it is absent)."""
        return [st.get(cell_id) for st in self.states]

    def __repr__(self) -> str:
        shp = "x".join(map(str, self.cell_mask.shape[1:]))
        return (
            f"TimeLapse({self.n_frames} frames of {shp}, {self.modality}, "
            f"dividing cell {self.mitotic_id} -> {self.daughter_ids}, labels={list(self.recorded)})"
        )


def _stage_at(t: float, schedule) -> tuple[str, float]:
    """Stage and progress within it at movie time ``t`` in [0, 1)."""
    total = sum(w for _, w in schedule)
    acc = 0.0
    for name, w in schedule:
        w = w / total
        if t < acc + w or name == schedule[-1][0]:
            return name, float(np.clip((t - acc) / w, 0.0, 1.0))
        acc += w
    return schedule[-1][0], 1.0  # pragma: no cover


def _daughters(mother: CellPlan, next_id: int, progress: float):
    """Two interphase daughters on the spindle axis, moving apart after the division."""
    ct = CELL_TYPES[mother.cell_type]
    R = ct.rounded_radius_um * mother.scale
    d = R * (0.8 + 0.25 * progress)
    ca, sa = math.cos(mother.spindle_angle), math.sin(mother.spindle_angle)
    out = []
    for k, sgn in enumerate((1.0, -1.0)):
        cy = mother.center_um[0] + sgn * d * sa
        cx = mother.center_um[1] + sgn * d * ca
        out.append(
            CellPlan(
                id=next_id + k,
                cell_type=mother.cell_type,
                state="interphase",
                center_um=(cy, cx),
                angle=mother.spindle_angle + math.pi / 2,
                scale=mother.scale * (0.72 + 0.08 * progress),
                seed=(*mother.seed, 7, k),
                progress=0.5,
                spindle_angle=mother.spindle_angle,
                parent=mother.id,
                expression_seed=mother.expression_seed or mother.seed,
            )
        )
    return out


def simulate_timelapse(
    shape,
    n_frames: int,
    *,
    seed: int,
    drift_um_per_frame=(0.15, -0.1),
    cell_types=("epithelial",),
    n_cells: int | None = None,
    mitotic_cell: int | None = None,
    labels=None,
    schedule=MITOSIS_SCHEDULE,
    **field_kwargs,
) -> TimeLapse:
    """Simulate a time-lapse of a cell dividing, with stage drift.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)`` of each frame.
    n_frames : int
        Number of frames (at least 2).
    seed : int
        Random seed (the same seed gives the same movie).
    drift_um_per_frame : tuple of float
        ``(dy, dx)`` stage drift per frame in micrometres (the specimen moves by this much
        from one frame to the next).
    cell_types, n_cells
        As in :func:`~coursekit.microscope.field.simulate_field`.
    mitotic_cell : int, optional
        Id of the cell that divides (default: the cell nearest the field's centre).
    labels : sequence of str, optional
        Labels to simulate (default all).
    schedule : sequence of (str, float)
        Stages of the dividing cell and the fraction of the movie each takes
        (:data:`MITOSIS_SCHEDULE`); the last, ``"daughters"``, shows two daughter cells.
    **field_kwargs
        Passed on to :func:`~coursekit.microscope.field.simulate_field` (modality,
        n_planes, pixel_size_um, camera, photons, ...).

    Returns
    -------
    TimeLapse

    Examples
    --------
    >>> tl = simulate_timelapse((96, 96), 6, seed=0, n_cells=3, labels=("dna",))
    >>> tl.recorded["dna"].shape, len(tl.states)
    ((6, 96, 96), 6)
    >>> tl.state_of(tl.mitotic_id)[0]
    'interphase'
    """
    shp = _check_shape(shape)
    n_frames = check_int(n_frames, "n_frames", minimum=2)
    try:
        drift = tuple(float(v) for v in drift_um_per_frame)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"drift_um_per_frame: expected (dy, dx) in um, got {drift_um_per_frame!r}"
        ) from exc
    if len(drift) != 2 or not all(math.isfinite(v) for v in drift):
        raise ValueError(
            f"drift_um_per_frame: expected two finite numbers (dy, dx), got {drift_um_per_frame!r}"
        )
    for name, _ in schedule:
        check_choice(
            name,
            "schedule stage",
            ("interphase", "prophase", "metaphase", "anaphase", "telophase", "daughters"),
        )
    for bad in ("plans", "shift_um", "frame", "states", "drop_cells"):
        if bad in field_kwargs:
            raise TypeError(f"simulate_timelapse does not take {bad}=; the movie sets it per frame")
    px = float(field_kwargs.get("pixel_size_um", 0.3))
    Y, X = shp[-2:]
    # every cell in interphase except the one that divides
    plans = plan_cells(
        (Y * px, X * px),
        seed=int(seed),
        cell_types=cell_types,
        n_cells=n_cells,
        states="interphase",
    )
    if not plans:
        raise ValueError("no cells in the field: ask for n_cells >= 1")
    if mitotic_cell is None:
        cy, cx = Y * px / 2, X * px / 2
        mother = min(plans, key=lambda p: (p.center_um[0] - cy) ** 2 + (p.center_um[1] - cx) ** 2)
    else:
        ids = [p.id for p in plans]
        check_choice(mitotic_cell, "mitotic_cell", ids)
        mother = plans[ids.index(mitotic_cell)]
    next_id = max(p.id for p in plans) + 1
    daughter_ids = (next_id, next_id + 1)
    others = [p for p in plans if p.id != mother.id]

    frames = []
    stage_um = np.zeros((n_frames, 2))
    for t in range(n_frames):
        stage, prog = _stage_at(t / n_frames, schedule)
        if stage == "daughters":
            cur = others + _daughters(mother, next_id, prog)
        else:
            cur = others + [replace(mother, state=stage, progress=prog)]
        shift = (drift[0] * t, drift[1] * t)
        stage_um[t] = shift
        frames.append(
            simulate_field(
                shp,
                seed=int(seed),
                labels=labels,
                plans=cur,
                shift_um=shift,
                frame=t,
                **field_kwargs,
            )
        )
    f0 = frames[0]
    meta = dict(f0.metadata)
    meta.update(
        {
            "n_frames": int(n_frames),
            "drift_um_per_frame": drift,
            "schedule": [list(s) for s in schedule],
            "mitotic_id": mother.id,
            "daughter_ids": daughter_ids,
        }
    )
    return TimeLapse(
        transmitted=np.stack([f.transmitted for f in frames]),
        transmitted_clean=np.stack([f.transmitted_clean for f in frames]),
        modality=f0.modality,
        recorded={lab: np.stack([f.recorded[lab] for f in frames]) for lab in f0.recorded},
        clean={lab: np.stack([f.clean[lab] for f in frames]) for lab in f0.clean},
        cell_mask=np.stack([f.cell_mask for f in frames]),
        nucleus_mask=np.stack([f.nucleus_mask for f in frames]),
        states=[{c.id: c.state for c in f.cells} for f in frames],
        cells=[f.cells for f in frames],
        stage_um=stage_um,
        mitotic_id=mother.id,
        daughter_ids=daughter_ids,
        metadata=meta,
    )
