"""The book's figures build without error and show what they claim (Agg backend, no display)."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from gancore import plotting, toy  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    matplotlib.pyplot.close("all")


def test_plot_samples_draws_samples_and_means():
    ax = plotting.plot_samples(torch.randn(100, 2), toy("ring"), title="t")
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [100, 8] and ax.get_title() == "t" and ax.get_xlabel()


def test_snapshots_and_panels_make_one_axis_per_entry():
    fig = plotting.plot_snapshots({s: torch.randn(20, 2) for s in (1, 2, 3)}, toy("ring"), ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == ["step 1", "step 2", "step 3"] and len(fig.axes) == 4
    fig = plotting.plot_sample_panels({"a": torch.randn(5, 2), "b": torch.randn(5, 2)}, lim=2.0)
    assert [ax.get_xlim() for ax in fig.axes] == [(-2.0, 2.0)] * 2


def test_plot_history_smooths_with_a_running_mean():
    history = {"step": [1, 2, 3, 4], "d_loss": [0.0, 2.0, 0.0, 2.0], "g_loss": [1.0] * 4}
    ax = plotting.plot_history(history, smooth=2)
    d_line = ax.get_lines()[0]
    assert list(d_line.get_ydata()) == [1.0, 1.0, 1.0] and list(d_line.get_xdata()) == [2, 3, 4]


def test_image_grid_tiles_with_one_pixel_gaps():
    images = torch.stack([torch.full((1, 2, 2), v) for v in (-1.0, 1.0, 0.0)])
    grid = plotting.image_grid(images, nrow=2)
    assert grid.shape == (5, 5)
    assert grid[0, 0] == 0.0 and grid[0, 3] == 1.0 and grid[3, 0] == 0.5 and grid[0, 2] == 1.0
    rgb = plotting.image_grid(torch.zeros(4, 3, 4, 4), nrow=4)
    assert rgb.shape == (4, 19, 3)


def test_plot_optimal_discriminator_and_mode_zoom():
    x = torch.linspace(-3, 3, 50)
    p = torch.exp(-x**2 / 2)
    axes = plotting.plot_optimal_discriminator(x, p, p.flip(0), p / (p + p.flip(0)), p / (p + p.flip(0)))
    assert axes is not None
    ring = toy("ring")
    fig = plotting.plot_mode_zoom({"data": ring.sample(200, generator=torch.Generator().manual_seed(0))}, ring)
    assert len(fig.axes) >= 1


def test_plot_logit_curves_overlays_closed_forms():
    t = torch.linspace(-5, 5, 11)
    ax = plotting.plot_logit_curves(t, {"ns": -torch.sigmoid(-t)}, closed={"ns": -torch.sigmoid(-t)})
    lines = ax.get_lines()  # the curve, its dashed closed form, and the zero line
    assert len(lines) == 3 and lines[1].get_linestyle() == "--"
    torch.testing.assert_close(torch.tensor(lines[0].get_ydata()), torch.tensor(lines[1].get_ydata()))


def test_plot_vector_field_draws_unit_arrows_and_trajectories():
    import numpy as np

    from gancore import dirac

    paths = {"a": dirac.simulate("gan", lr=0.2, steps=30), "b": dirac.simulate("r1", gamma=1.0, steps=30)}
    ax = plotting.plot_vector_field("r1", paths, lim=2.0, n=9)
    quiver = [c for c in ax.collections if isinstance(c, matplotlib.quiver.Quiver)][0]
    lengths = np.hypot(quiver.U, quiver.V)
    assert quiver.N == 81 and np.allclose(lengths[lengths > 0], 1.0) and (lengths == 0).sum() == 1  # 0 at the equilibrium
    labels = [line.get_label() for line in ax.get_lines()]
    assert "a" in labels and "b" in labels
    assert ax.get_title() == "r1 (γ=1)" and ax.get_xlim() == (-2.0, 2.0)
    ax = plotting.plot_vector_field("gan", dirac.simulate("gan", steps=5), title="plain")
    assert ax.get_title() == "plain" and ax.get_legend() is None


def test_plot_success_grids_annotates_each_cell():
    from gancore import stability

    rows = [{"lr_g": lr, "b": b, "modes": m, "num_modes": 8}
            for lr, b, m in [(1e-3, 0.0, 8), (1e-3, 0.0, 2), (1e-3, 0.5, 8), (1e-2, 0.0, 1)]]
    grid = stability.success_grid(rows, "lr_g", "b")
    fig = plotting.plot_success_grids({"ns": grid, "copy": grid})
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["50%", "100%", "0%", "–"]
    assert ax.get_title() == "ns" and ax.get_xlabel() == "b" and ax.get_ylabel() == "lr_g"
    assert len(fig.axes) == 3  # two panels and the colour bar
    fig = plotting.plot_success_grids({"ns": stability.success_grid(rows, "lr_g", "b", value="modes")})
    assert [t.get_text() for t in fig.axes[0].texts] == ["50%\n5.0", "100%\n8.0", "0%\n1.0", "–"]


def test_snapshot_widget_has_a_slider_over_the_steps():
    pytest.importorskip("ipywidgets")
    view = plotting.snapshot_widget({20: torch.randn(10, 2), 10: torch.randn(10, 2)}, toy("ring"), lim=1.5)
    slider = view.children[0]
    assert list(slider.options) == [10, 20] and slider.value == 20
    slider.value = 10  # redraws without error
    with pytest.raises(ValueError):
        plotting.snapshot_widget({})


def test_plot_image_panels_shows_one_grid_per_set():
    panels = {"a": torch.zeros(10, 1, 8, 8), "b": torch.ones(70, 1, 8, 8)}
    fig = plotting.plot_image_panels(panels, n=64, nrow=8)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig.axes[1].images[0].get_array().shape == (8 * 9 - 1, 8 * 9 - 1)  # 64 images, 8 per row


def test_plot_overfitting_curves_draws_train_and_heldout_per_run():
    h = {"step": [1, 2], "rt": [0.1, 0.5], "train_accuracy": [0.5, 0.9], "heldout_accuracy": [0.5, 0.4], "fid": [9.0, 5.0]}
    fig = plotting.plot_overfitting_curves({"100 images": h, "all": dict(h, fid=[float("nan")] * 2)})
    assert len(fig.axes) == 3
    assert len(fig.axes[0].get_lines()) == 3  # two runs and the ADA target
    assert len(fig.axes[1].get_lines()) == 4 and fig.axes[1].get_lines()[1].get_linestyle() == "--"
    fig = plotting.plot_overfitting_curves({"a": dict(h, fid=[float("nan")] * 2)}, target=None)
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) == 1


def test_plot_nearest_neighbours_pairs_each_sample_with_its_neighbour():
    train = torch.rand(10, 1, 8, 8) * 2 - 1
    fake = torch.cat([train[3:4], train[7:8] + 0.1])
    ax = plotting.plot_nearest_neighbours(fake, train, title="nn")
    image = ax.get_images()[0].get_array()
    assert image.shape == (17, 17) and ax.get_title() == "nn"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.0", "0.8"]  # 0.1 × √64
    assert torch.allclose(torch.tensor(image[9:, :8].data), (train[3, 0] + 1) / 2)  # the copy's neighbour is itself


def test_lipschitz_figures_draw_contours_histograms_and_sweeps():
    from gancore import lipschitz
    from gancore.models import MLPDiscriminator

    D = MLPDiscriminator(2, 8, depth=1)
    xs, ys, values = lipschitz.critic_values(D, lim=1.0, n=11)
    ax = plotting.plot_critic_surface(xs, ys, values, real=torch.randn(20, 2), fake=torch.randn(20, 2), title="critic")
    assert ax.get_title() == "critic" and ax.get_xlim() == (-1.0, 1.0) and len(ax.collections) >= 2
    ax = plotting.plot_gradient_norms(torch.tensor([0.9, 1.0, 1.1]))
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [1.0]  # the dashed target line
    ax = plotting.plot_gradient_norms(torch.tensor([0.001, 0.002]))  # far below 1: no target line
    assert ax.get_lines() == []
    ax = plotting.plot_weight_histogram({"before": torch.rand(50) - 0.5, "after": torch.rand(50)}, c=0.5)
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [-0.5, 0.5]
    axes = plotting.plot_weight_sweep([0.1, 1, 10], {"modes": [8, 8, 0], "high quality %": [50, 80, 0]})
    assert len(axes) == 2 and axes[0].get_xscale() == "log"
    assert list(axes[1].get_lines()[0].get_ydata()) == [50, 80, 0]


def test_plot_seed_strip_draws_one_dot_per_seed_and_a_mean_bar_per_group():
    groups = {"a": [0.9, 0.95, 1.0], "b": [0.5, 0.7]}
    ax = plotting.plot_seed_strip(groups, lines={"target": 0.98, "published": 0.959})
    dots = [c.get_offsets() for c in ax.collections if c.get_offsets().shape[1] == 2 and len(c.get_offsets()) in (2, 3)]
    assert sorted(len(d) for d in dots) == [2, 3]
    ys = sorted(float(y) for d in dots for y in d[:, 1])
    assert ys == pytest.approx([50, 70, 90, 95, 100])  # percent
    for d, center in zip(sorted(dots, key=len, reverse=True), (0, 1)):
        assert abs(d[:, 0] - center).max() <= 0.15  # jitter stays inside its column
    means = [seg for coll in ax.collections for seg in getattr(coll, "get_segments", lambda: [])()]
    assert sorted(round(float(s[0][1]), 6) for s in means) == pytest.approx([60, 95])
    assert [l.get_ydata()[0] for l in ax.get_lines()] == pytest.approx([98, 95.9])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
