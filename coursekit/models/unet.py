"""A compact U-Net for 2D images and 3D stacks (Ronneberger et al. 2015; Ounkomol et al. 2018).

One class covers both dimensionalities. The default (depth 3, 16 base channels, batch
norm) has about 0.47 million parameters in 2D and trains usefully on two CPU cores in a
minute; :meth:`UNet.fnet_like` builds the larger network of Ounkomol et al.'s *fnet*
(depth 4, 32 base channels, strided-convolution downsampling).

Any input size works: :meth:`UNet.forward` pads the spatial axes to a multiple of
``2 ** depth`` (reflect padding) and crops the output back, so a 37 x 51 image gives a
37 x 51 prediction.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from coursekit._validation import check_choice, check_int

__all__ = ["UNet", "ModelSummary", "NORMS"]

NORMS = ("batch", "group", "none")
DOWNSAMPLES = ("maxpool", "conv")
PAD_MODES = ("reflect", "replicate", "constant")

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_CONVT = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
_BN = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


def seeded_init(seed: int | None):
    """A context in which torch's random numbers (weight initialization) come from ``seed``;
    the global random state is restored afterwards. ``None``: no change."""
    if seed is None:
        return contextlib.nullcontext()
    seed = check_int(seed, "seed", minimum=0)

    @contextlib.contextmanager
    def ctx():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield

    return ctx()


def _group_count(channels: int, wanted: int) -> int:
    """The largest number of groups <= ``wanted`` that divides ``channels``."""
    for g in range(min(wanted, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


def _norm(kind: str, ndim: int, channels: int, groups: int) -> nn.Module:
    if kind == "batch":
        return _BN[ndim](channels)
    if kind == "group":
        return nn.GroupNorm(_group_count(channels, groups), channels)
    return nn.Identity()


class ConvBlock(nn.Sequential):
    """Two ``kernel_size`` convolutions, each followed by normalization and ReLU.

    Dropout (element-wise, ``p=dropout``) sits between the two convolutions.
    """

    def __init__(self, c_in, c_out, *, ndim, kernel_size, norm, norm_groups, dropout):
        conv = _CONV[ndim]
        bias = norm == "none"
        pad = kernel_size // 2
        layers = [
            conv(c_in, c_out, kernel_size, padding=pad, bias=bias),
            _norm(norm, ndim, c_out, norm_groups),
            nn.ReLU(inplace=True),
        ]
        # an Identity without dropout keeps the parameter names the same either way, so
        # weights trained without dropout load into a model with it (and back)
        layers.append(nn.Dropout(dropout) if dropout > 0 else nn.Identity())
        layers += [
            conv(c_out, c_out, kernel_size, padding=pad, bias=bias),
            _norm(norm, ndim, c_out, norm_groups),
            nn.ReLU(inplace=True),
        ]
        super().__init__(*layers)


@dataclass
class ModelSummary:
    """What :meth:`UNet.describe` returns: a table that prints itself.

    Attributes
    ----------
    rows : list of (str, tuple, int)
        ``(stage, feature shape (C, *spatial), parameters in that stage)``.
    input_shape : tuple
        The example input, ``(C, *spatial)``.
    n_parameters : int
        Trainable parameters of the whole model.
    receptive_field : int
        Receptive field in input pixels along each axis (the same along every axis).
    title : str
    """

    rows: list = field(default_factory=list)
    input_shape: tuple = ()
    n_parameters: int = 0
    receptive_field: int = 0
    title: str = ""

    def __str__(self) -> str:
        def fmt_shape(s):
            return "(" + ", ".join(str(v) for v in s) + ")"

        head = ("stage", "features (C, *spatial)", "parameters")
        body = [(r[0], fmt_shape(r[1]), f"{r[2]:,}") for r in self.rows]
        widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(3)]
        line = "  ".join("-" * w for w in widths)

        def fmt(r):
            return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"

        out = [self.title, line, fmt(head), line, *[fmt(r) for r in body], line]
        out.append(f"total parameters: {self.n_parameters:,}")
        out.append(
            f"receptive field: {self.receptive_field} pixels along each axis "
            f"(example input {fmt_shape(self.input_shape)})"
        )
        return "\n".join(out)

    __repr__ = __str__


class UNet(nn.Module):
    """U-Net for 2D images ``(N, C, Y, X)`` or 3D stacks ``(N, C, Z, Y, X)``.

    Encoder level ``i`` (``i = 0 .. depth - 1``) has ``base_channels * channel_growth ** i``
    feature maps; the bottleneck has one more level. Each level is two convolutions with
    normalization and ReLU; the decoder upsamples with a 2-strided transposed convolution
    and concatenates the encoder features of the same level (skip connection). A final
    1 x 1 convolution gives one output channel per label, with no activation (the targets
    are normalized intensities, not probabilities).

    Parameters
    ----------
    in_channels : int
        Input channels (e.g. 1 bright-field plane, or 3 focal planes).
    out_channels : int
        Output channels: one per fluorescence label predicted at once.
    ndim : {2, 3}
        Spatial dimensions.
    depth : int
        Number of downsampling steps (>= 1). Inputs are padded to a multiple of
        ``2 ** depth``.
    base_channels : int, optional
        Feature maps at the first level. Default: 16 in 2D, 8 in 3D (a 3D convolution
        costs three times more per channel pair, and 8 keeps the 3D model near 350,000
        parameters and a 64 x 512 x 512 stack predictable in about half a minute on 2 CPU
        cores).
    norm : {"batch", "group", "none"}
        Normalization after each convolution. Batch norm is per pixel at inference (tiled
        prediction matches one pass); group norm uses the statistics of the whole input,
        so tiled and one-pass predictions differ slightly.
    dropout : float
        Dropout probability inside each convolution block (0 disables). Keep it active at
        inference with :meth:`enable_mc_dropout` for Monte Carlo dropout.
    channel_growth : float
        Factor between the feature maps of consecutive levels.
    kernel_size : int
        Odd kernel size of the convolutions.
    downsample : {"maxpool", "conv"}
        2 x 2 max pooling, or a learned 2 x 2 convolution with stride 2 (as in fnet).
    norm_groups : int
        Groups for ``norm="group"`` (reduced to a divisor of the channel count).
    pad_mode : {"reflect", "replicate", "constant"}
        How :meth:`forward` pads inputs to a multiple of ``2 ** depth``. Reflect falls back
        to replicate along axes too short to reflect.
    seed : int, optional
        Seeds the initial weights (without touching torch's global random state), so that
        ``UNet(..., seed=0)`` and ``train(..., seed=0)`` make a whole run repeatable.
        Default: torch's global random state, as any torch module. Not part of
        ``config`` (it only matters before training).

    Attributes
    ----------
    config : dict
        The arguments above: ``UNet(**model.config)`` builds the same architecture.
    receptive_field : int
        Input pixels (along each axis) that can influence one output pixel, computed from
        the kernel sizes and strides.
    size_multiple : int
        ``2 ** depth``.
    normalization : dict or None
        The training data's normalization (recorded by :func:`~coursekit.models.train`,
        restored by :func:`~coursekit.models.load_checkpoint`); :func:`~coursekit.models.predict`
        applies it by default.
    input_stats : dict or None
        Per-channel ``mean`` and ``std`` of the training inputs.

    Examples
    --------
    >>> import torch
    >>> model = UNet(in_channels=1, out_channels=2, ndim=2)
    >>> model(torch.zeros(1, 1, 37, 51)).shape
    torch.Size([1, 2, 37, 51])
    >>> UNet(**model.config).config == model.config
    True
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        ndim: int = 2,
        depth: int = 3,
        base_channels: int | None = None,
        norm: str = "batch",
        dropout: float = 0.0,
        channel_growth: float = 2,
        kernel_size: int = 3,
        downsample: str = "maxpool",
        norm_groups: int = 8,
        pad_mode: str = "reflect",
        seed: int | None = None,
    ):
        super().__init__()
        if base_channels is None:
            base_channels = 16 if ndim == 2 else 8
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        out_channels = check_int(out_channels, "out_channels", minimum=1)
        depth = check_int(depth, "depth", minimum=1)
        base_channels = check_int(base_channels, "base_channels", minimum=1)
        kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        norm_groups = check_int(norm_groups, "norm_groups", minimum=1)
        if ndim not in (2, 3):
            raise ValueError(f"ndim: expected 2 or 3, got {ndim!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size: expected an odd integer, got {kernel_size}")
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        if not float(channel_growth) >= 1:
            raise ValueError(f"channel_growth: expected a number >= 1, got {channel_growth!r}")
        check_choice(norm, "norm", NORMS)
        check_choice(downsample, "downsample", DOWNSAMPLES)
        check_choice(pad_mode, "pad_mode", PAD_MODES)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.ndim = ndim
        self.depth = depth
        self._config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            ndim=ndim,
            depth=depth,
            base_channels=base_channels,
            norm=norm,
            dropout=float(dropout),
            channel_growth=channel_growth,
            kernel_size=kernel_size,
            downsample=downsample,
            norm_groups=norm_groups,
            pad_mode=pad_mode,
        )
        self.channels = [
            max(1, int(round(base_channels * channel_growth**i))) for i in range(depth + 1)
        ]
        block = dict(
            ndim=ndim,
            kernel_size=kernel_size,
            norm=norm,
            norm_groups=norm_groups,
            dropout=float(dropout),
        )
        with seeded_init(seed):  # the initial weights, repeatable with a seed
            ch = self.channels
            self.encoders = nn.ModuleList()
            self.downs = nn.ModuleList()
            c_prev = in_channels
            for i in range(depth):
                self.encoders.append(ConvBlock(c_prev, ch[i], **block))
                if downsample == "maxpool":
                    self.downs.append(_POOL[ndim](2))
                else:
                    self.downs.append(
                        nn.Sequential(
                            _CONV[ndim](ch[i], ch[i], 2, stride=2, bias=norm == "none"),
                            _norm(norm, ndim, ch[i], norm_groups),
                            nn.ReLU(inplace=True),
                        )
                    )
                c_prev = ch[i]
            self.bottleneck = ConvBlock(ch[depth - 1], ch[depth], **block)
            self.ups = nn.ModuleList()
            self.decoders = nn.ModuleList()
            for i in reversed(range(depth)):
                self.ups.append(_CONVT[ndim](ch[i + 1], ch[i], 2, stride=2))
                self.decoders.append(ConvBlock(2 * ch[i], ch[i], **block))
            self.head = _CONV[ndim](ch[0], out_channels, 1)
        #: The normalization of the training data (a spec dict), recorded by train() and
        #: load_checkpoint(); predict() applies it by default. None: unknown.
        self.normalization: dict | None = None
        #: Per-channel mean and std of the training inputs as the model saw them.
        self.input_stats: dict | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def fnet_like(cls, in_channels: int = 1, out_channels: int = 1, ndim: int = 3, **kwargs):
        """The architecture of Ounkomol et al. 2018 (*fnet*): depth 4, 32 base channels.

        Batch norm, channels doubling at each level, and learned 2 x 2 strided
        convolutions for downsampling. About 8.1 million parameters in 2D and 23 million
        in 3D: train it on a GPU.

        Parameters
        ----------
        in_channels, out_channels : int
        ndim : {2, 3}
        **kwargs
            Overrides of any other :class:`UNet` argument (e.g. ``dropout=0.1``).

        Examples
        --------
        >>> UNet.fnet_like(1, 1, ndim=2).config["depth"]
        4
        """
        args = dict(depth=4, base_channels=32, norm="batch", downsample="conv")
        args.update(kwargs)
        return cls(in_channels, out_channels, ndim=ndim, **args)

    @property
    def config(self) -> dict:
        """The constructor arguments, as a new dict of plain values."""
        return dict(self._config)

    @property
    def size_multiple(self) -> int:
        """Spatial sizes are padded to a multiple of this (``2 ** depth``)."""
        return 2**self.depth

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        return self.signature()

    def signature(self, keys=None) -> str:
        """A one-line description such as ``UNet(in_channels=1, ..., depth=3, ...)``."""
        cfg = self.config
        keys = cfg.keys() if keys is None else keys
        return "UNet(" + ", ".join(f"{k}={cfg[k]!r}" for k in keys) + ")"

    # ------------------------------------------------------------------ padding
    def padding_for(self, spatial_shape) -> list[tuple[int, int]]:
        """Padding ``(before, after)`` per spatial axis up to a multiple of ``2 ** depth``."""
        m = self.size_multiple
        out = []
        for s in spatial_shape:
            total = (-int(s)) % m
            out.append((total // 2, total - total // 2))
        return out

    def pad_input(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """Pad ``x`` ``(N, C, *spatial)`` as :meth:`forward` does.

        Returns
        -------
        padded : torch.Tensor
        crop : tuple of slice
            Index the padded result with it to get back the original spatial extent.
        """
        spatial = tuple(x.shape[2:])
        pads = self.padding_for(spatial)
        crop = (slice(None), slice(None)) + tuple(
            slice(b, b + s) for (b, _), s in zip(pads, spatial)
        )
        if not any(b or a for b, a in pads):
            return x, crop
        flat = []
        for b, a in reversed(pads):
            flat += [b, a]
        mode = self._config["pad_mode"]
        if mode == "reflect" and any(max(b, a) >= s for (b, a), s in zip(pads, spatial)):
            mode = "replicate"
        if mode == "constant":
            return F.pad(x, flat, mode="constant", value=0.0), crop
        return F.pad(x, flat, mode=mode), crop

    # ------------------------------------------------------------------ forward
    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"UNet expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != self.ndim + 2:
            axes = "(N, C, Y, X)" if self.ndim == 2 else "(N, C, Z, Y, X)"
            raise ValueError(
                f"this {self.ndim}D UNet expects a {self.ndim + 2}D tensor {axes}, got shape "
                f"{tuple(x.shape)}"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"this UNet expects {self.in_channels} input channel(s), got {x.shape[1]} "
                f"(tensor of shape {tuple(x.shape)}; channels are axis 1)"
            )
        if not torch.is_floating_point(x):
            raise TypeError(f"UNet expects a floating-point tensor, got {x.dtype}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict ``(N, out_channels, *spatial)`` from ``(N, in_channels, *spatial)``."""
        self._check_input(x)
        x, crop = self.pad_input(x)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], dim=1))
        return self.head(x)[crop]

    # ------------------------------------------------------------------ dropout at inference
    def enable_mc_dropout(self, enabled: bool = True) -> UNet:
        """Put the model in eval mode but keep its dropout layers sampling.

        For Monte Carlo dropout (Gal & Ghahramani 2016): repeated predictions of the same
        input differ, and their spread estimates the model's uncertainty. Batch norm uses
        its running statistics. ``model.eval()`` or ``model.train()`` undo it. The same
        switch as :func:`coursekit.models.enable_mc_dropout`, which
        :func:`~coursekit.models.predict_mc_dropout` uses.

        Raises
        ------
        ValueError
            If the model was built with ``dropout=0``.
        """
        from coursekit.models.mc_dropout import enable_mc_dropout

        return enable_mc_dropout(self, enabled)

    def train(self, mode: bool = True) -> UNet:
        """Training mode, except that batch-norm layers whose parameters are all frozen
        (:func:`~coursekit.models.freeze_trunk`) keep their running statistics (eval mode),
        so a frozen trunk stays exactly as it was."""
        super().train(mode)
        if mode:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    params = list(m.parameters())
                    if params and not any(p.requires_grad for p in params):
                        m.eval()
        return self

    # ------------------------------------------------------------------ transfer learning
    def with_head(self, out_channels: int, *, seed: int | None = None) -> UNet:
        """A new U-Net with this one's trunk (a copy of every weight but the output layer)
        and a new, freshly initialized 1 x 1 output layer for ``out_channels`` labels.

        For transfer learning: a trunk trained on one label (or many) learns a new label
        from a few images; freeze it with :func:`~coursekit.models.freeze_trunk` to train
        only the head, then :func:`~coursekit.models.unfreeze` to fine-tune everything.

        Parameters
        ----------
        out_channels : int
            Labels of the new head.
        seed : int, optional
            Seeds the new head's initial weights.

        Returns
        -------
        UNet
            Same configuration but ``out_channels``; the trunk's weights and batch-norm
            statistics copied (not shared), the training normalization kept; all
            parameters trainable; in the mode of this model.

        Examples
        --------
        >>> import torch
        >>> base = UNet(3, 1, depth=2, seed=0)
        >>> new = base.with_head(2, seed=1)
        >>> new.config["out_channels"], torch.equal(new.encoders[0][0].weight,
        ...                                         base.encoders[0][0].weight)
        (2, True)
        """
        out_channels = check_int(out_channels, "out_channels", minimum=1)
        new = UNet(**{**self.config, "out_channels": out_channels}, seed=seed)
        trunk = {k: v for k, v in self.state_dict().items() if not k.startswith("head.")}
        head = {k: v for k, v in new.state_dict().items() if k.startswith("head.")}
        new.load_state_dict({**trunk, **head})
        new.normalization = copy.deepcopy(self.normalization)
        new.input_stats = copy.deepcopy(self.input_stats)
        device = next(self.parameters()).device
        return new.to(device).train(self.training)

    # ------------------------------------------------------------------ receptive field
    def _receptive_interval(self, q: int) -> tuple[int, int]:
        """Input interval ``[lo, hi]`` (1D, inclusive) that output index ``q`` depends on.

        Walks the network backwards from the output: a convolution with kernel ``k`` and
        padding ``p`` maps output ``[lo, hi]`` to input ``[lo - p, hi + k - 1 - p]``; a
        2-strided downsampling (kernel 2) maps ``[lo, hi]`` to ``[2 lo, 2 hi + 1]``; a
        2-strided transposed convolution (kernel 2) maps ``[lo, hi]`` to
        ``[lo // 2, hi // 2]``; a skip connection takes the union of both branches.
        """
        k = self._config["kernel_size"]
        p = k // 2

        def block(lo, hi):  # two convolutions
            return lo - 2 * p, hi + 2 * (k - 1 - p)

        def level(lo, hi, i):  # output of decoder i -> input of encoder i
            if i == self.depth:
                return block(lo, hi)
            lo, hi = block(lo, hi)  # decoder convolutions
            ulo, uhi = level(lo // 2, hi // 2, i + 1)  # transposed conv, deeper levels
            lo, hi = min(lo, 2 * ulo), max(hi, 2 * uhi + 1)  # downsampling; union with skip
            return block(lo, hi)  # encoder convolutions

        return level(q, q, 0)  # the 1 x 1 head does not widen it

    @property
    def receptive_field(self) -> int:
        """Receptive field in input pixels (per axis), the maximum over output positions."""
        widths = []
        for q in range(self.size_multiple):
            lo, hi = self._receptive_interval(q)
            widths.append(hi - lo + 1)
        return max(widths)

    @property
    def receptive_radius(self) -> int:
        """How far (pixels) an output pixel's receptive field reaches to one side, at most.

        Tiled prediction discards this many pixels along inner tile edges to be exact.
        """
        reach = 0
        for q in range(self.size_multiple):
            lo, hi = self._receptive_interval(q)
            reach = max(reach, q - lo, hi - q)
        return reach

    # ------------------------------------------------------------------ summary
    def describe(self, input_shape=None, *, show: bool = False) -> ModelSummary:
        """A table of each level's feature shape, the parameter count and the receptive field.

        Parameters
        ----------
        input_shape : tuple of int, optional
            Example input: spatial ``(Y, X)`` / ``(Z, Y, X)``, or with channels first.
            Default ``(in_channels, 256, 256)`` in 2D, ``(in_channels, 32, 128, 128)`` in 3D.
        show : bool
            Also print the table.

        Returns
        -------
        ModelSummary
            Prints as a table (also as the last line of a notebook cell).

        Examples
        --------
        >>> summary = UNet().describe((64, 64))
        >>> summary.rows[0]
        ('input', (1, 64, 64), 0)
        >>> summary.receptive_field == UNet().receptive_field
        True
        """
        nd = self.ndim
        if input_shape is None:
            spatial = (256, 256) if nd == 2 else (32, 128, 128)
        else:
            shape = tuple(int(s) for s in input_shape)
            if len(shape) == nd:
                spatial = shape
            elif len(shape) in (nd + 1, nd + 2):
                if shape[-nd - 1] != self.in_channels:
                    raise ValueError(
                        f"input_shape {shape} has {shape[-nd - 1]} channel(s) but the model "
                        f"expects {self.in_channels}"
                    )
                spatial = shape[-nd:]
            else:
                raise ValueError(
                    f"input_shape: expected {nd} spatial sizes, optionally preceded by the "
                    f"channels, got {shape}"
                )
            if any(s < 1 for s in spatial):
                raise ValueError(f"input_shape: sizes must be positive, got {shape}")

        def n_params(*modules):
            return sum(p.numel() for m in modules for p in m.parameters())

        padded = tuple(s + b + a for s, (b, a) in zip(spatial, self.padding_for(spatial)))
        rows = [("input", (self.in_channels, *spatial), 0)]
        if padded != tuple(spatial):
            rows.append(("padded", (self.in_channels, *padded), 0))
        ch = self.channels
        for i in range(self.depth):
            size = tuple(s // 2**i for s in padded)
            rows.append((f"encoder {i}", (ch[i], *size), n_params(self.encoders[i])))
            if self._config["downsample"] == "conv":
                half = tuple(s // 2 for s in size)
                rows.append((f"downsample {i}", (ch[i], *half), n_params(self.downs[i])))
        size = tuple(s // 2**self.depth for s in padded)
        rows.append(("bottleneck", (ch[self.depth], *size), n_params(self.bottleneck)))
        for j, i in enumerate(reversed(range(self.depth))):
            size = tuple(s // 2**i for s in padded)
            stage = n_params(self.ups[j], self.decoders[j])
            rows.append((f"decoder {i}", (ch[i], *size), stage))
        rows.append(("output", (self.out_channels, *spatial), n_params(self.head)))
        summary = ModelSummary(
            rows=rows,
            input_shape=(self.in_channels, *spatial),
            n_parameters=self.n_parameters,
            receptive_field=self.receptive_field,
            title=self.signature(),
        )
        if show:
            print(summary)
        return summary
