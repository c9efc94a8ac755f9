"""Matplotlib figures used by the book. Imported on demand: ``import gancore`` does not load it."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor

__all__ = [
    "plot_samples", "plot_snapshots", "plot_history", "image_grid", "show_images",
    "plot_logit_curves", "plot_sample_panels", "plot_optimal_discriminator", "plot_mode_zoom",
    "plot_vector_field", "plot_success_grids", "snapshot_widget", "plot_image_panels",
    "plot_overfitting_curves", "plot_nearest_neighbours",
    "plot_critic_surface", "plot_gradient_norms", "plot_weight_histogram", "plot_weight_sweep",
    "plot_seed_strip",
]


def _plane_axes(ax, title: str | None = None):
    """Equal aspect, axes labelled x₁ and x₂, and the title if any: every 2-D plot's frame."""
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_samples(samples: Tensor, data=None, *, ax=None, title: str | None = None, s: float = 2.0, real: Tensor | None = None):
    """Scatter 2-D ``samples``; mark a mixture's means (``data.centers``) and optional ``real`` points."""
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=s, c="tab:gray", alpha=0.3, label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=s, c="tab:blue", alpha=0.5, label="generated")
    centers = getattr(data, "centers", None)
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", c="tab:red", s=30, label="mode means")
    return _plane_axes(ax, title)


def plot_snapshots(snapshots: dict[int, Tensor], data=None, *, ncols: int = 5, size: float = 2.4, lim: float | None = None):
    """One scatter per training step, from ``{step: samples}``."""
    panels = {f"step {step}": samples for step, samples in snapshots.items()}
    fig = plot_sample_panels(panels, data, ncols=ncols, size=size, lim=lim)
    for ax in fig.axes:
        ax.set_xlabel("")
        ax.set_ylabel("")
    return fig


def plot_history(history: dict[str, list], columns=("d_loss", "g_loss"), *, ax=None, smooth: int = 1):
    """Plot history columns against the step, optionally as a running mean over ``smooth`` steps."""
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    steps = torch.tensor(history["step"], dtype=torch.float64)
    for name in columns:
        values = torch.tensor(history[name], dtype=torch.float64)
        if smooth > 1 and len(values) >= smooth:
            kernel = torch.ones(1, 1, smooth, dtype=torch.float64) / smooth
            values = torch.nn.functional.conv1d(values[None, None], kernel)[0, 0]
            x = steps[smooth - 1 :]
        else:
            x = steps
        ax.plot(x, values, label=name)
    ax.set_xlabel("training step")
    ax.legend()
    return ax


def image_grid(images: Tensor, nrow: int = 8) -> Tensor:
    """Tile N×C×H×W images in [−1, 1] into one H'×W'×C array in [0, 1] (C squeezed if 1)."""
    images = images.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nrows = math.ceil(n / ncol)
    grid = torch.ones(c, nrows * (h + 1) - 1, ncol * (w + 1) - 1)
    for i, img in enumerate(images):
        r, k = divmod(i, ncol)
        grid[:, r * (h + 1) : r * (h + 1) + h, k * (w + 1) : k * (w + 1) + w] = img
    grid = grid.permute(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


def show_images(images: Tensor, nrow: int = 8, *, ax=None, title: str | None = None):
    """Show a grid of images in [−1, 1]."""
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    grid = image_grid(images, nrow)
    ax.imshow(grid, cmap="gray" if grid.dim() == 2 else None, vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


# ----- losses and gradients (chapters "Losses" and "Backpropagation") -----------------------


def plot_logit_curves(
    logits: Tensor,
    curves: dict[str, Tensor],
    *,
    closed: dict[str, Tensor] | None = None,
    ax=None,
    xlabel: str = "fake logit $f$",
    ylabel: str = "",
    title: str | None = None,
):
    """Plot functions of a logit, one solid line per entry of ``curves``; the entries of
    ``closed`` (same keys, e.g. closed-form derivatives) are drawn on top as thin dashed lines."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    x = logits.detach().double().cpu()
    for label, y in curves.items():
        ax.plot(x, y.detach().double().cpu(), lw=3, alpha=0.6, label=label)
    for i, y in enumerate((closed or {}).values()):
        ax.plot(x, y.detach().double().cpu(), "k--", lw=1, label="closed form" if i == 0 else None)
    ax.axhline(0, color="gray", lw=0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_sample_panels(
    panels: dict[str, Tensor],
    data=None,
    *,
    ncols: int = 5,
    size: float = 2.4,
    lim: float | None = None,
    real: Tensor | None = None,
):
    """One scatter of 2-D samples per entry of ``panels``, titled with its key."""
    n = len(panels)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax, (name, samples) in zip(axes.flat, panels.items()):
        plot_samples(samples, data, ax=ax, title=name, s=1.0, real=real)
        if lim is not None:
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


# ----- the optimal discriminator (chapter "Background") -------------------------------------


def plot_optimal_discriminator(x: Tensor, p_data: Tensor, p_g: Tensor, d_optimal: Tensor, d_learned: Tensor | None = None, *, axes=None):
    """Two panels over a 1-D grid ``x``: the densities p_data and p_g, then D*(x) = p_data/(p_data + p_g)
    with a trained discriminator's σ(D(x)) (``d_learned``) on top."""
    if axes is None:
        axes = plt.subplots(1, 2, figsize=(9, 3.2))[1]
    x = x.detach().double().cpu()
    ax = axes[0]
    ax.plot(x, p_data.detach().double().cpu(), label=r"$p_\mathrm{data}$")
    ax.plot(x, p_g.detach().double().cpu(), label=r"$p_g$")
    ax.set_xlabel("$x$")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(x, d_optimal.detach().double().cpu(), "k--", lw=1.5, label=r"$D^*(x)$ (closed form)")
    if d_learned is not None:
        ax.plot(x, d_learned.detach().double().cpu(), lw=3, alpha=0.6, label=r"trained $\sigma(D(x))$")
    ax.axhline(0.5, color="gray", lw=0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("$x$")
    ax.set_ylabel("probability that $x$ is real")
    ax.legend(fontsize=8)
    axes[0].figure.tight_layout()
    return axes


def plot_mode_zoom(panels: dict[str, Tensor], data, *, mode: int = 0, half_width: float | None = None, threshold: float = 3.0, size: float = 3.0):
    """One scatter per entry of ``panels``, zoomed on mode ``mode`` of a mixture ``data``.

    Draws the circle of radius ``threshold``·std around each mean: the "high quality" region of
    :func:`gancore.metrics.mode_stats`. ``half_width`` defaults to 15 stds.
    """
    center = data.centers[mode].double()
    half_width = half_width if half_width is not None else 15 * data.std
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(size * n, size), squeeze=False)
    for ax, (name, samples) in zip(axes.flat, panels.items()):
        ax.scatter(samples[:, 0], samples[:, 1], s=3, c="tab:blue", alpha=0.5, label="samples")
        for i, c in enumerate(data.centers):
            ax.add_patch(plt.Circle((float(c[0]), float(c[1])), threshold * data.std, fill=False, color="tab:red", lw=1,
                                    label=f"{threshold:g} std around the mean" if i == 0 else None))
        ax.set_xlim(float(center[0]) - half_width, float(center[0]) + half_width)
        ax.set_ylim(float(center[1]) - half_width, float(center[1]) + half_width)
        _plane_axes(ax, name)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


# ----- stability (chapter "Stability") -----------------------------------------------------


def plot_vector_field(game="gan", trajectories=None, *, ax=None, lim: float = 2.0, n: int = 17, title: str | None = None):
    """The Dirac-GAN vector field of ``game`` (:mod:`gancore.dirac`) as arrows over
    [−lim, lim]², with trajectories from :func:`gancore.dirac.simulate` drawn on top.

    ``trajectories`` is one ``[steps + 1, 2]`` array or a ``{label: array}`` dict; each is drawn
    as a line from a circle (start) to a square (end). The equilibrium (0, 0) is a black star.
    Arrows are normalised to equal length (the colour shows the speed), so slow regions stay visible.
    """
    import numpy as np

    from . import dirac

    ax = ax or plt.subplots(figsize=(4, 4))[1]
    grid = np.linspace(-lim, lim, n)
    theta, psi = np.meshgrid(grid, grid)
    v_theta, v_psi = dirac.vector_field(theta, psi, game)
    speed = np.hypot(v_theta, v_psi)
    scale = np.where(speed > 0, speed, 1.0)
    arrows = ax.quiver(theta, psi, v_theta / scale, v_psi / scale, speed, cmap="Greys", angles="xy", pivot="mid", width=0.004)
    arrows.set_clim(-0.6 * speed.max(), speed.max())  # the slowest arrows stay visible (light grey, not white)
    if trajectories is not None:
        if not isinstance(trajectories, dict):
            trajectories = {None: trajectories}
        for label, path in trajectories.items():
            path = np.asarray(path, dtype=float)
            line = ax.plot(path[:, 0], path[:, 1], lw=1.5, label=label)[0]
            ax.plot(*path[0], "o", color=line.get_color(), ms=5)
            finite = path[np.isfinite(path).all(axis=1)]
            if len(finite):
                ax.plot(*finite[-1], "s", color=line.get_color(), ms=5)
        if any(label is not None for label in trajectories):
            ax.legend(fontsize=7, loc="lower left")
    ax.plot(0, 0, "k*", ms=10)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"generator $\theta$")
    ax.set_ylabel(r"discriminator $\psi$")
    ax.set_title(title if title is not None else str(dirac.game(game)))
    return ax


def plot_success_grids(grids: dict, *, size: float = 3.2, fmt: str = "{:.0%}", value_fmt: str = "{:.1f}",
                       index_label: str | None = None, column_label: str | None = None, cmap: str = "RdYlGn"):
    """One heat map per :class:`gancore.stability.SuccessGrid` in ``{title: grid}``, side by side,
    each cell annotated with its success rate (and "–" where there were no runs), colour scale 0 to 1.
    When a grid has per-cell means of a value (``means``), each cell shows it on a second line
    (formatted with ``value_fmt``)."""
    import numpy as np

    n = len(grids)
    fig, axes = plt.subplots(1, n, figsize=(size * n + 0.8, size), squeeze=False)
    image = None
    for ax, (title, grid) in zip(axes.flat, grids.items()):
        rates = np.array(grid.rates, dtype=float)
        image = ax.imshow(rates, vmin=0, vmax=1, cmap=cmap, origin="lower", aspect="auto")
        for i in range(rates.shape[0]):
            for j in range(rates.shape[1]):
                text = "–" if grid.runs[i][j] == 0 else fmt.format(rates[i, j])
                if grid.means is not None and grid.runs[i][j]:
                    text += "\n" + value_fmt.format(grid.means[i][j])
                ax.text(j, i, text, ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(grid.column_values)), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.column_values])
        ax.set_yticks(range(len(grid.index_values)), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.index_values])
        ax.set_xlabel(column_label or grid.column_name)
        ax.set_ylabel(index_label or grid.index_name)
        ax.set_title(title)
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=list(axes.flat), fraction=0.05, pad=0.03, label="success rate")
    return fig


def snapshot_widget(snapshots: dict, data=None, *, lim: float | None = None, size: float = 4.0, real=None):
    """An ipywidgets view of ``{step: samples}``: a slider over the training steps and the scatter
    of that step's samples (with the mixture's means of ``data``). Needs a live kernel; show a
    static figure (e.g. :func:`plot_snapshots`) next to it for readers of a web page.
    ipywidgets is imported only when this is called."""
    import ipywidgets as widgets
    from IPython.display import display

    steps = sorted(snapshots)
    if not steps:
        raise ValueError("no snapshots to show")
    out = widgets.Output()
    slider = widgets.SelectionSlider(options=steps, value=steps[-1], description="step", continuous_update=False,
                                     layout=widgets.Layout(width="60%"))

    def draw(step):
        out.clear_output(wait=True)
        with out:
            fig, ax = plt.subplots(figsize=(size, size))
            plot_samples(snapshots[step], data, ax=ax, title=f"step {step}", s=1.5, real=real)
            if lim is not None:
                ax.set_xlim(-lim, lim)
                ax.set_ylim(-lim, lim)
            display(fig)
            plt.close(fig)

    slider.observe(lambda change: draw(change["new"]), names="value")
    draw(slider.value)
    return widgets.VBox([slider, out])


# ----- image sample grids side by side (chapter "Background": GAN vs VAE on digits) ----------


def plot_image_panels(panels: dict[str, Tensor], *, n: int = 64, nrow: int = 8, size: float = 2.8):
    """One grid of the first ``n`` images (N×C×H×W in [−1, 1]) per entry of ``panels``, side by side, titled with its key."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size * 1.1), squeeze=False)
    for ax, (name, images) in zip(axes.flat, panels.items()):
        show_images(images[:n], nrow, ax=ax, title=name)
    fig.tight_layout()
    return fig


# ----- overfitting over training, nearest neighbours (chapter "Overfitting") ----------------


def plot_overfitting_curves(histories: dict[str, dict], *, size: float = 3.6, target: float | None = 0.6):
    """D's overfitting over training for several runs: one colour per entry of ``histories``
    (``gancore.overfitting.OverfitTracker.history`` dicts). Panels: r_t (with ADA's ``target``
    as a dotted line), D's accuracy on training reals (solid) and held-out reals (dashed), and
    FID when the histories have finite ``fid`` values."""
    with_fid = any(any(v == v for v in h.get("fid", [])) for h in histories.values())
    ncols = 3 if with_fid else 2
    fig, axes = plt.subplots(1, ncols, figsize=(size * ncols, size * 0.85), squeeze=False)
    axes = axes[0]
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        axes[0].plot(h["step"], h["rt"], color=color, marker="o", ms=3, label=name)
        axes[1].plot(h["step"], h["train_accuracy"], color=color, marker="o", ms=3, label=f"{name}: train")
        axes[1].plot(h["step"], h["heldout_accuracy"], color=color, ls="--", marker="s", ms=3, label=f"{name}: held-out")
        if with_fid:
            axes[2].plot(h["step"], h["fid"], color=color, marker="o", ms=3, label=name)
    if target is not None:
        axes[0].axhline(target, color="gray", ls=":", label=f"ADA target {target:g}")
    axes[0].set(xlabel="training step", ylabel=r"$r_t = \mathbb{E}[\mathrm{sign}\, D(x)]$", title="r_t on training reals")
    axes[1].set(xlabel="training step", ylabel="fraction with D(x) > 0", title="D accuracy on reals")
    if with_fid:
        axes[2].set(xlabel="training step", ylabel="FID (digit features)", title="FID against held-out digits", yscale="log")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_nearest_neighbours(fake: Tensor, train: Tensor, *, ax=None, title: str | None = None):
    """Each generated image (top row) above its nearest training image in pixel space (bottom
    row), with the Euclidean distance between the two under each column."""
    fake, train = fake.detach().float().cpu(), train.detach().float().cpu()
    dist = torch.cdist(fake.flatten(1).double(), train.flatten(1).double())
    d, idx = dist.min(dim=1)
    n = len(fake)
    ax = ax or plt.subplots(figsize=(0.9 * n, 2.2))[1]
    grid = image_grid(torch.cat([fake, train[idx]]), nrow=n)
    ax.imshow(grid.numpy(), cmap="gray" if grid.dim() == 2 else None, vmin=0, vmax=1)
    h, w = fake.shape[-2:]
    ax.set_xticks([k * (w + 1) + (w - 1) / 2 for k in range(n)], [f"{v:.1f}" for v in d.tolist()], fontsize=7)
    ax.set_yticks([(h - 1) / 2, h + 1 + (h - 1) / 2], ["generated", "nearest\ntraining"], fontsize=8)
    ax.set_xlabel("pixel distance to the nearest training image")
    if title:
        ax.set_title(title)
    return ax


# ----- Lipschitz constraints of a critic (chapter "Gradient penalty") -----------------------


def plot_critic_surface(xs: Tensor, ys: Tensor, values: Tensor, *, real: Tensor | None = None, fake: Tensor | None = None,
                        ax=None, title: str | None = None, levels: int = 25):
    """Filled contours of a critic's values on a grid (from :func:`gancore.lipschitz.critic_values`),
    with optional real (white) and fixed fake (black) samples on top."""
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    cs = ax.contourf(xs.cpu(), ys.cpu(), values.detach().float().cpu(), levels=levels, cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, shrink=0.8, label="critic value $D(x)$")
    if fake is not None:
        ax.scatter(fake[:, 0], fake[:, 1], s=1, c="k", alpha=0.3, label="fixed fakes")
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=1, c="w", alpha=0.8, label="data")
    ax.set_xlim(float(xs[0]), float(xs[-1]))
    ax.set_ylim(float(ys[0]), float(ys[-1]))
    return _plane_axes(ax, title)


def plot_gradient_norms(norms: Tensor, *, ax=None, title: str | None = None, target: float | None = 1.0, bins: int = 40):
    """Histogram of per-sample gradient norms ‖∇D(x̂)‖, with a dashed line at ``target`` when it is in range."""
    ax = ax or plt.subplots(figsize=(4, 3))[1]
    values = norms.detach().double().cpu()
    ax.hist(values.numpy(), bins=bins, color="tab:blue", alpha=0.8)
    if target is not None and float(values.min()) <= target <= float(values.max()) * 1.5:
        ax.axvline(target, color="k", ls="--", lw=1, label=f"norm {target:g}")
        ax.legend(fontsize=8)
    ax.set_xlabel(r"$\|\nabla_{\hat x} D(\hat x)\|_2$")
    ax.set_ylabel("interpolates")
    if title:
        ax.set_title(title)
    return ax


def plot_weight_histogram(values: dict[str, Tensor], *, c: float | None = None, ax=None, title: str | None = None, bins: int = 60):
    """Overlaid histograms of parameter values (e.g. before and after training), with the clipping bounds ±c dashed."""
    ax = ax or plt.subplots(figsize=(4, 3))[1]
    for label, v in values.items():
        ax.hist(v.detach().double().cpu().numpy(), bins=bins, alpha=0.6, label=label)
    if c is not None:
        for bound in (-c, c):
            ax.axvline(bound, color="k", ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("parameter value")
    ax.set_ylabel("parameters")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_weight_sweep(weights, columns: dict[str, list], *, axes=None, xlabel: str = r"penalty weight $\lambda$",
                      ylabels: dict[str, str] | None = None):
    """One panel per entry of ``columns`` (e.g. modes captured, high-quality %), plotted against
    ``weights`` on a log axis."""
    n = len(columns)
    if axes is None:
        axes = plt.subplots(1, n, figsize=(4 * n, 3), squeeze=False)[1][0]
    for ax, (name, ys) in zip(axes, columns.items()):
        ax.plot(list(weights), list(ys), "o-")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel((ylabels or {}).get(name, name))
    axes[0].figure.tight_layout()
    return axes


def plot_seed_strip(groups: dict[str, list[float]], *, ax=None, title: str | None = None, ylabel: str = "",
                    lines: dict[str, float] | None = None, scale: float = 100.0):
    """One column of dots per group (one dot per seed, jittered sideways) with its mean as a bar:
    a benchmark's spread over seeds at a glance. ``lines`` draws labelled horizontal references
    (a target, a published figure); values are multiplied by ``scale`` (fractions → percent)."""
    ax = ax or plt.subplots(figsize=(1.2 + 1.1 * len(groups), 3.2))[1]
    gen = torch.Generator().manual_seed(0)
    for i, values in enumerate(groups.values()):
        y = torch.tensor(values, dtype=torch.float64) * scale
        x = i + (torch.rand(len(y), generator=gen, dtype=torch.float64) - 0.5) * 0.3
        ax.scatter(x, y, s=14, alpha=0.7, zorder=3)
        ax.hlines(float(y.mean()), i - 0.25, i + 0.25, colors="k", linewidth=1.5, zorder=4)
    for (label, value), style in zip((lines or {}).items(), ("--", ":", "-.")):
        ax.axhline(value * scale, color="tab:red" if style == "--" else "tab:gray", linestyle=style, linewidth=1, label=label)
    ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    if lines:
        ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return ax
