"""The pictures, drawn with matplotlib at build time from the reference (and accelerated) functions.

Each entry of :data:`FIGURES` names the clauses it illustrates (its page and its family's page show it) and draws
on a fresh matplotlib figure. A family with no drawing of its own gets :func:`example_figure`: the worked example
of its first clause with an array output, computed by the reference and drawn as values.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from genspec import spec


@dataclass(frozen=True)
class Figure:
    name: str
    clauses: tuple[str, ...]
    caption: str
    draw: Callable
    size: tuple[float, float] = (8.0, 3.2)


def _ddpm(fig):
    from genspec.reference import ddpm as R
    a1, a2 = fig.subplots(1, 2)
    for v, kw in (("linear", {}), ("scaled_linear", {"beta_1": 0.00085, "beta_T": 0.012}), ("squaredcos_cap_v2", {})):
        b = R.beta_schedule(T=1000, beta_schedule=v, **kw)
        t = np.arange(1, 1001)
        a1.plot(t, b, label=v)
        a2.plot(t, R.alpha_bars(b), label=v)
    a1.set(title=r"$\beta_t$ (ddpm.beta_schedule)", xlabel="t", yscale="log")
    a2.set(title=r"$\bar\alpha_t = \prod_{s\leq t}(1-\beta_s)$ (ddpm.alpha_bar)", xlabel="t")
    a1.legend(fontsize=7)


def _logit_normal(fig):
    from genspec.reference import schedule as R
    a1, a2 = fig.subplots(1, 2)
    t = np.linspace(1e-3, 1 - 1e-3, 400)
    for m, s in ((0.0, 1.0), (0.5, 1.0), (-0.5, 1.0), (0.0, 0.5)):
        a1.plot(t, R.logit_normal_pdf(t, m=m, s=s), label=f"m={m:g}, s={s:g}")
    a1.set(title="logit-normal density (schedule.logit_normal_pdf)", xlabel="t")
    a1.legend(fontsize=7)
    for s in (1.0, 2.0, 3.0, 0.5):
        a2.plot(t, R.shift(t, s), label=f"s={s:g}")
    a2.set(title="time shift t' = s t / (1 + (s − 1) t) (schedule.shift)", xlabel="t", ylabel="t'")
    a2.legend(fontsize=7)


def _karras(fig):
    from genspec.reference import schedule as R
    ax = fig.subplots()
    for rho in (1.0, 3.0, 7.0, 20.0):
        s = R.karras_sigmas(20, 0.002, 80.0, rho=rho)
        s = s[s > 0]                     # the appended final σ = 0 has no place on a log axis
        ax.plot(np.arange(len(s)), s, marker=".", label=f"ρ = {rho:g}")
    ax.set(title="Karras σ_i, n = 20, σ ∈ [0.002, 80] (schedule.karras)", xlabel="i", ylabel="σ", yscale="log")
    ax.legend(fontsize=7)


def _timestep(fig):
    from genspec.reference import dit as R
    ax = fig.subplots()
    t = np.arange(0, 1000, 4, dtype=np.float64)
    e = R.timestep_embedding(t, 128)
    im = ax.imshow(e.T, aspect="auto", cmap="RdBu", extent=(0, 1000, 128, 0))
    ax.set(title="timestep embedding e(t), dim = 128: cos half then sin half (dit.timestep_embedding)",
           xlabel="t", ylabel="entry")
    fig.colorbar(im, ax=ax)


def _patchify(fig):
    from genspec.reference import dit as R
    H = W = 4
    x = np.arange(H * W, dtype=np.float64).reshape(1, 1, H, W)
    tok = R.patchify(x, 2)
    a1, a2 = fig.subplots(1, 2)
    a1.imshow(x[0, 0], cmap="viridis")
    for i in range(H):
        for j in range(W):
            a1.text(j, i, int(x[0, 0, i, j]), ha="center", va="center", color="w")
    a1.set(title="image entries (C = 1, 4 × 4)")
    a2.imshow(tok[0], cmap="viridis", aspect="auto")
    for i in range(tok.shape[1]):
        for j in range(tok.shape[2]):
            a2.text(j, i, int(tok[0, i, j]), ha="center", va="center", color="w")
    a2.set(title="tokens (rows) after patchify, p = 2 (dit.patchify)", xlabel="entry of a token", ylabel="token")


def _masks(fig):
    from genspec.reference import attention as A
    from genspec.reference import vq as V
    L = 8
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(1, L, 4)), rng.normal(size=(1, L, 4))
    eye = np.eye(L)[None]
    causal = V.causal_mask(L)
    pad = np.ones((L, L), dtype=bool)
    pad[:, 6:] = False
    joint = np.ones((L, L), dtype=bool)
    joint[:, 2] = False                  # 3 text then 5 image tokens; text token 2 is padding (mask_c)
    panels = [("causal (ar.causal_mask)", causal), ("padding: last 2 keys masked", pad),
              ("joint: 3 text + 5 image tokens,\ntext token 2 padded", joint)]
    for ax, (title, m) in zip(fig.subplots(1, 3), panels, strict=True):
        w = A.sdpa(q, k, eye, mask=m[None])[0]   # v = I: the output is the weight matrix
        ax.imshow(w, cmap="magma", vmin=0)
        ax.set(title=title, xlabel="key", ylabel="query")
        ax.title.set_fontsize(8)
    fig.suptitle("attention weights softmax(qkᵀ/√d + mask) (attention.sdpa, v = I)", fontsize=9)


def _cfg(fig):
    from genspec.reference import cfg as R
    ax = fig.subplots()
    v_y, v_null = np.array([[1.0, 1.0]]), np.array([[1.3, 0.3]])
    line = np.array([v_null[0], v_null[0] + 4.3 * (v_y[0] - v_null[0])])
    ax.plot(line[:, 0], line[:, 1], "k:", lw=0.8)
    for v, lab, col in ((v_y[0], "v_y", "tab:blue"), (v_null[0], "v_∅", "tab:gray")):
        ax.annotate("", v, (0, 0), arrowprops={"arrowstyle": "->", "color": col, "lw": 1.5})
        ax.annotate(lab, v, xytext=(4, -10), textcoords="offset points", color=col)
    for w in (0.5, 1.0, 2.0, 3.0):
        v = R.cfg_combine(v_y, v_null, w)[0]
        ax.annotate("", v, (0, 0), arrowprops={"arrowstyle": "->", "color": "tab:red", "alpha": 0.35 + 0.2 * w})
        ax.annotate(f"w = {w:g}", v, xytext=(5, 0), textcoords="offset points", color="tab:red")
    ax.set(xlim=(-0.1, 1.7), ylim=(-0.1, 3.6), aspect="equal", xlabel="entry 1", ylabel="entry 2")
    ax.set_title("v_cfg = (1 + w) v_y − w v_∅ moves along the line\nthrough v_∅ and v_y (cfg.combine, computed)",
                 fontsize=9)


def _euler(fig):
    from genspec.conformance.fixtures import BIMODAL
    from genspec.reference import optimal as O
    from genspec.reference import sampler as S
    w, mu, cov = BIMODAL
    f = lambda x, t: O.optimal_prediction(x, t, w, mu, cov, target="velocity", path="rf")
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(60, 2))
    a1, a2 = fig.subplots(1, 2)
    x = x1.copy()
    T = 40
    path = [x]
    for k in range(T):
        x = x - (1.0 / T) * f(x, np.full(len(x), 1.0 - k / T))
        path.append(x)
    p = np.stack(path)
    a1.plot(p[:, :, 0], p[:, :, 1], lw=0.5, color="tab:blue", alpha=0.6)
    a1.scatter(p[-1, :, 0], p[-1, :, 1], s=6, color="tab:red", zorder=3)
    a1.set(title="exact-velocity ODE paths, noise → data", aspect="equal")
    exact = S.euler_sample(f, x1, 1024)
    Ts = [1, 2, 4, 8, 16, 32, 64]
    err = [np.sqrt(np.mean(np.sum((S.euler_sample(f, x1, T) - exact) ** 2, axis=1))) for T in Ts]
    a2.loglog(Ts, err, "o-", label="Euler (sampler.euler)")
    a2.loglog(Ts, err[2] * 4 / np.array(Ts), "k:", label="∝ 1/T")
    a2.set(title="RMS error against T = 1024, 2-D bimodal mixture", xlabel="steps T")
    a2.legend(fontsize=7)
    for a in (a1, a2):
        a.title.set_fontsize(8)


def _video(fig):
    from genspec.reference import video as V
    ax = fig.subplots()
    frames = np.arange(1, 66, 4)
    for (ft, f, p, lab) in ((4, 8, 2, "f_t = 4, f = 8, p = 2, causal"), (1, 8, 2, "per-frame, f = 8, p = 2")):
        tok = [V.video_latent_shape(T, 256, 256, ft, f, 16, 1, p, temporal="causal")["tokens"] for T in frames]
        ax.plot(frames, tok, marker=".", label=lab)
    ax.set(title="video tokens against frames, 256 × 256 (video.tokens)", xlabel="frames T", ylabel="tokens")
    ax.legend(fontsize=7)


def _ldm(fig):
    from genspec.reference import ldm as L
    ax = fig.subplots()
    Hs = np.array([64, 128, 256, 512, 1024])
    for f, p in ((8, 2), (16, 1), (8, 1)):
        ax.loglog(Hs, [L.latent_shapes(H, H, 3, f, 4, p=p)["tokens"] for H in Hs], "o-", label=f"f = {f}, p = {p}")
    ax.set(title="DiT tokens on the latent against image side (ldm.shapes)", xlabel="H = W", ylabel="tokens")
    ax.legend(fontsize=7)


def _family(fig):
    from genspec.reference import family as F
    t = np.linspace(1e-3, 1.0, 200)      # t = 0 is the vp velocity's singular point (b(0) = 0): not drawn
    axs = fig.subplots(1, 4)
    for ax, (path, sched) in zip(axs, (("rf", None), ("vp", "linear"), ("vp", "cosine"), ("vp", "trig")),
                                 strict=True):
        a, b = F.coefficients(t, path=path, target="velocity", schedule=sched)[:2]
        ax.plot(t, a, label="a(t)")
        ax.plot(t, b, label="b(t)")
        ax.set(title=f"{path}" + (f" ({sched})" if sched else "") + ": x_t = a x + b z", xlabel="t")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=7)


def _gan(fig):
    from genspec.reference import gan as G
    a1, a2 = fig.subplots(1, 2)
    x = np.linspace(-4, 4, 400)
    pd = np.exp(-0.5 * (x - 1) ** 2) / np.sqrt(2 * np.pi)
    pg = np.exp(-0.5 * ((x + 1) / 1.3) ** 2) / (1.3 * np.sqrt(2 * np.pi))
    a1.plot(x, pd, label="p_data"), a1.plot(x, pg, label="p_G")
    a1.plot(x, G.optimal_discriminator(pd, pg), "k", label="D*")
    a1.set(title="D* = p_data / (p_data + p_G) (gan.optimal_discriminator)")
    a1.legend(fontsize=7)
    d = np.linspace(0.01, 0.99, 200)
    sat = [G.generator_loss_saturating(np.array([di])) for di in d]
    non = [G.generator_loss_non_saturating(np.array([di])) for di in d]
    a2.plot(d, sat, label="saturating (gan.generator_loss_saturating)")
    a2.plot(d, non, label="non-saturating")
    a2.set(title="generator losses against D(G(z))", xlabel="D(G(z))")
    a2.legend(fontsize=7)
    for a in (a1, a2):
        a.title.set_fontsize(8)


def _rf(fig):
    from genspec.conformance.fixtures import BIMODAL, sample_mixture
    from genspec.reference import rf as R
    rng = np.random.default_rng(1)
    x = sample_mixture(rng, 12, *BIMODAL)
    z = rng.normal(size=x.shape)
    ax = fig.subplots()
    ts = np.linspace(0.0, 1.0, 11)
    path = np.stack([R.interpolate(x, z, t) for t in ts])
    ax.plot(path[:, :, 0], path[:, :, 1], color="tab:blue", lw=0.7, alpha=0.7)
    ax.scatter(x[:, 0], x[:, 1], s=10, color="tab:red", label="data x (t = 0)", zorder=3)
    ax.scatter(z[:, 0], z[:, 1], s=10, color="tab:gray", label="noise z (t = 1)", zorder=3)
    ax.set(aspect="equal", title="x_t = (1 − t) x + t z: straight paths (rf.interpolation)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)


def _score(fig):
    from genspec.reference import score as R
    mu, cov = np.array([0.5, -0.3]), np.array([[1.0, 0.6], [0.6, 0.8]])
    g = np.linspace(-2.5, 3.0, 15)
    X, Y = np.meshgrid(g, g)
    pts = np.stack([X.ravel(), Y.ravel()], axis=1)
    s = R.gaussian_score(pts, mu, cov)
    ax = fig.subplots()
    d = pts - mu
    q = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d).reshape(X.shape)
    ax.contour(X, Y, np.exp(-0.5 * q), levels=5, colors="0.6", linewidths=0.7)
    ax.quiver(pts[:, 0], pts[:, 1], s[:, 0], s[:, 1], color="tab:blue", angles="xy")
    ax.set(aspect="equal", title="∇ log N(x; μ, Σ) points to the mode (score.definition)")
    ax.title.set_fontsize(9)


def _vae(fig):
    from genspec.reference import vae as R
    mu = np.linspace(-3, 3, 121)
    lv = np.linspace(-4, 3, 141)
    M, LV = np.meshgrid(mu, lv)
    kl = R.kl_standard_normal(M.reshape(-1, 1), LV.reshape(-1, 1)).reshape(M.shape)
    ax = fig.subplots()
    im = ax.contourf(M, LV, kl, levels=20, cmap="viridis")
    fig.colorbar(im, ax=ax)
    ax.set(xlabel="μ", ylabel="log σ²", title="KL(N(μ, σ²) ‖ N(0, 1)) of one latent (vae.kl): 0 at μ = 0, σ = 1")
    ax.title.set_fontsize(9)


def _cond(fig):
    from genspec.conformance.fixtures import BIMODAL
    from genspec.reference import cond as R
    w, mu, cov = BIMODAL
    xs = np.linspace(-4, 4, 161)
    ts = np.linspace(0.0, 0.99, 100)
    pts = np.stack([xs, np.zeros_like(xs)], axis=1)
    p = np.stack([R.class_posterior(pts, t, w, mu, cov, np.array([0, 1]))[:, 0] for t in ts])
    ax = fig.subplots()
    im = ax.imshow(p, aspect="auto", origin="lower", extent=(xs[0], xs[-1], ts[0], ts[-1]), cmap="coolwarm")
    fig.colorbar(im, ax=ax)
    ax.set(xlabel="x_t (first coordinate)", ylabel="t", title="p(class 0 | x_t, t) on the bimodal mixture "
           "(cond.class_posterior): sharp at the data, ½ at the noise")
    ax.title.set_fontsize(8)


def _sde(fig):
    from genspec.reference import sde as R
    t = np.linspace(0.001, 1.0, 200)
    x = np.ones((len(t), 1))
    ax = fig.subplots()
    for path in ("vp", "ve"):
        try:
            f, g = R.forward_sde(x, t, path=path)
        except Exception:  # noqa: BLE001 - a path the clause does not define is left out
            continue
        ax.plot(t, f[:, 0], label=f"{path}: drift f(x = 1, t)")
        ax.plot(t, g, "--", label=f"{path}: diffusion g(t)")
    ax.set(xlabel="t", yscale="symlog", title="dx = f(x, t) dt + g(t) dW (sde.forward)")
    ax.legend(fontsize=7)


def _consistency(fig):
    from genspec.reference import consistency as R
    xs = np.linspace(-3, 3, 101)[:, None]
    ax = fig.subplots()
    for t in (0.0, 0.25, 0.5, 0.75, 0.95):
        ax.plot(xs[:, 0], R.gaussian_consistency_function(xs, t, np.array([1.0]), 0.5)[:, 0], label=f"t = {t:g}")
    ax.set(xlabel="x_t", ylabel="f(x_t, t)", title="the consistency function of N(1, 0.5²): identity at t = 0, "
           "the mean as t → 1 (consistency.gaussian)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)


def _ar(fig):
    from genspec.reference import autoregressive as R
    rng = np.random.default_rng(0)
    joint = rng.gamma(0.6, size=(5, 5))
    joint /= joint.sum()
    x = R.ancestral_sample(joint, rng.random((20000, 2)))
    freq = np.zeros_like(joint)
    np.add.at(freq, (x[:, 0], x[:, 1]), 1.0 / len(x))
    a1, a2 = fig.subplots(1, 2)
    for ax, m, title in ((a1, joint, "the joint p(x₁, x₂), K = 5, L = 2"),
                         (a2, freq, "frequencies of 20000 chain-rule samples (ar.sampling)")):
        im = ax.imshow(m, cmap="viridis", vmin=0, vmax=joint.max())
        ax.set(xlabel="x₂", ylabel="x₁")
        ax.set_title(title, fontsize=8)
    fig.colorbar(im, ax=a2)


def _classifier_guidance(fig):
    from genspec.reference import guidance as R
    ax = fig.subplots()
    score, grad = np.array([[0.3, 1.0]]), np.array([[0.8, -0.1]])
    for v, lab, col in ((score[0], "∇log p_t(x)", "tab:gray"), (grad[0], "∇log p_φ(y | x)", "tab:blue")):
        ax.annotate("", v, (0, 0), arrowprops={"arrowstyle": "->", "color": col, "lw": 1.5})
        ax.annotate(lab, v, xytext=(4, 4), textcoords="offset points", color=col, fontsize=8)
    for s_ in (1.0, 2.0, 4.0):
        v = R.classifier_guided_score(score, grad, s_)[0]
        ax.annotate("", v, (0, 0), arrowprops={"arrowstyle": "->", "color": "tab:red", "alpha": 0.3 + 0.15 * s_})
        ax.annotate(f"s = {s_:g}", v, xytext=(4, -10), textcoords="offset points", color="tab:red", fontsize=8)
    ax.set(xlim=(-0.2, 3.8), ylim=(-0.4, 1.4), aspect="equal", xlabel="entry 1", ylabel="entry 2")
    ax.set_title("∇log p_t(x) + s ∇log p_φ(y | x) (cfg.classifier_guidance, computed)", fontsize=9)


def _distill(fig):
    from genspec.conformance.fixtures import BIMODAL
    from genspec.reference import distill as D
    from genspec.reference import optimal as O
    w, mu, cov = BIMODAL
    f = lambda x, t: O.optimal_prediction(x, t, w, mu, cov, target="velocity", path="rf")
    rng = np.random.default_rng(2)
    x_t = rng.normal(size=(40, 2)) * 1.2
    t, dt = 0.9, 0.2
    one = x_t - 2 * dt * f(x_t, np.full(len(x_t), t))              # one Euler step of 2Δ on the teacher
    v = D.distillation_target(f, x_t, t, dt)                         # the student's velocity target
    two = x_t - 2 * dt * v                                           # lands on two teacher steps
    ax = fig.subplots()
    ax.scatter(x_t[:, 0], x_t[:, 1], s=8, color="0.5", label=f"x_t, t = {t:g}")
    ax.scatter(one[:, 0], one[:, 1], s=8, color="tab:orange", label="one teacher step of 2Δ")
    ax.scatter(two[:, 0], two[:, 1], s=8, color="tab:blue", label="x_t − 2Δ ṽ: two teacher steps of Δ")
    for a, b, c in zip(x_t, two, one, strict=True):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:blue", lw=0.4, alpha=0.5)
        ax.plot([a[0], c[0]], [a[1], c[1]], color="tab:orange", lw=0.4, alpha=0.5)
    ax.set(aspect="equal")
    ax.set_title(f"progressive distillation target, Δ = {dt:g} (distill.progressive)", fontsize=9)
    ax.legend(fontsize=7)


FIGURES: tuple[Figure, ...] = (
    Figure("ddpm_schedules.png", ("ddpm.beta_schedule", "ddpm.alpha_bar"),
           "β_t and ᾱ_t of the three beta_schedule variants, T = 1000", _ddpm),
    Figure("logit_normal_shift.png", ("schedule.logit_normal_pdf", "schedule.logit_normal", "schedule.shift"),
           "the logit-normal density of t and the time shift", _logit_normal),
    Figure("karras.png", ("schedule.karras",), "Karras σ schedules for several ρ", _karras, (6.0, 3.2)),
    Figure("timestep_embedding.png", ("dit.timestep_embedding",), "the timestep embedding as a heatmap",
           _timestep, (8.0, 3.6)),
    Figure("patchify.png", ("dit.patchify", "dit.unpatchify"), "the patchify index layout", _patchify),
    Figure("attention_masks.png", ("attention.sdpa", "ar.causal_mask", "attention.joint"),
           "attention weights under the causal, padding and joint masks", _masks, (9.0, 3.2)),
    Figure("cfg_vectors.png", ("cfg.combine", "cfg.rescale"), "the CFG combination as vectors", _cfg, (5.5, 5.5)),
    Figure("euler_mixture.png", ("sampler.euler", "optimal.prediction"),
           "ODE trajectories and Euler error against T on the 2-D mixture", _euler, (9.0, 3.8)),
    Figure("video_tokens.png", ("video.tokens",), "video token counts against frames", _video, (6.0, 3.2)),
    Figure("ldm_tokens.png", ("ldm.shapes",), "latent tokens against resolution", _ldm, (6.0, 3.2)),
    Figure("family_coefficients.png", ("family.affine", "family.interpolate"), "the affine paths' a(t), b(t)",
           _family, (10.0, 3.0)),
    Figure("gan.png", ("gan.optimal_discriminator", "gan.generator_loss_saturating",
                       "gan.generator_loss_non_saturating"), "the optimal discriminator and the generator losses",
           _gan, (9.0, 3.2)),
    Figure("rf_paths.png", ("rf.interpolation",), "straight interpolation paths between data and noise", _rf,
           (5.5, 4.5)),
    Figure("score_field.png", ("score.definition",), "the score field of a Gaussian", _score, (5.5, 4.5)),
    Figure("vae_kl.png", ("vae.kl",), "the KL term of one latent", _vae, (6.0, 3.6)),
    Figure("cond_posterior.png", ("cond.class_posterior", "cond.velocity"), "the class posterior along x_t and t",
           _cond, (6.5, 3.6)),
    Figure("sde_coefficients.png", ("sde.forward",), "the forward SDE's drift and diffusion", _sde, (6.0, 3.4)),
    Figure("consistency.png", ("consistency.gaussian", "consistency.property"),
           "the Gaussian consistency function", _consistency, (6.0, 3.4)),
    Figure("ar_sampling.png", ("ar.sampling", "ar.factorization"), "chain-rule sampling reproduces the joint", _ar,
           (8.0, 3.4)),
    Figure("classifier_guidance.png", ("cfg.classifier_guidance",), "classifier guidance as vectors",
           _classifier_guidance, (6.0, 3.2)),
    Figure("distill_target.png", ("distill.progressive",), "the progressive-distillation target on the 2-D mixture",
           _distill, (6.0, 4.2)),
)
QUICK = ("cfg_vectors.png", "timestep_embedding.png", "attention_masks.png")
"""The figures a quick build draws (tests): one of each kind of drawing the full build makes."""


def example_figure(clause_id: str, fig) -> bool:
    """The worked example's reference output drawn as values (a heatmap, or bars for a vector); False if it has no
    numeric array output."""
    from genspec.conformance.harness.registry import checks_for, reference_function
    chk, ref = checks_for(clause_id), reference_function(clause_id)
    if chk.example is None or ref is None:
        return False
    out = ref(**chk.example())
    if isinstance(out, tuple):
        out = out[0]
    try:
        a = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if a.size < 2:
        return False
    ax = fig.subplots()
    a = a.reshape(a.shape[0], -1) if a.ndim > 1 else a
    if a.ndim == 1:
        ax.bar(np.arange(a.size), a)
        ax.set(xlabel="entry")
    else:
        im = ax.imshow(a, aspect="auto", cmap="viridis")
        fig.colorbar(im, ax=ax)
        ax.set(xlabel="entry", ylabel="row")
    ax.set_title(f"{clause_id}: the worked example's output (reference)", fontsize=9)
    return True


def draw_all(img_dir: str, quick: bool = False) -> dict[str, list[tuple[str, str]]]:
    """Draw every figure into ``img_dir``; {clause id: [(file, caption)]} for the pages. In a full build every
    family has at least one picture (its own, else its first clause's worked example)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(img_dir, exist_ok=True)
    by_clause: dict[str, list[tuple[str, str]]] = {}

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(img_dir, name), dpi=100)
        plt.close(fig)

    for f in FIGURES:
        if quick and f.name not in QUICK:
            continue
        fig = plt.figure(figsize=f.size)
        f.draw(fig)
        save(fig, f.name)
        for c in f.clauses:
            by_clause.setdefault(c, []).append((f.name, f.caption))
    if quick:
        return by_clause
    drawn = {spec.module_of(c) for c in by_clause}
    for fam in spec.FAMILIES:
        if fam in drawn:
            continue
        for cid in (c for c in spec.CLAUSES if spec.module_of(c) == fam):
            fig = plt.figure(figsize=(6.0, 3.0))
            if example_figure(cid, fig):
                name = f"example_{cid}.png"
                save(fig, name)
                by_clause.setdefault(cid, []).append((name, f"the worked example of {cid}, its output as values"))
                break
            plt.close(fig)
    return by_clause
