"""Training distributions of t and the shift: the measured KS statistic and ∫ density, 04's log-normal variant,
bad input, and planted bugs the suite must catch.

Budget: < 10 s on 2 cores (KS on n = 20000, quad, two planted-bug runs over the schedule clauses).
"""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import genspec.accelerated.schedule as A
import genspec.reference.schedule as R
from genspec.conformance import Target
from genspec.conformance.checks.schedule import KS_N, KS_SEED
from genspec.conformance.harness.api import check, failing
from genspec.conformance.harness.target import from_modules
from genspec.spec import SpecInputError


def _with(clause, fn):
    base = from_modules("accelerated", "accelerated", "torch")
    bindings = {k: v for k, v in base.bindings.items() if k.startswith("schedule.")}
    bindings[clause] = fn
    return Target(name=f"planted:{clause}", backend="torch", bindings=bindings)


def _lognormal_pdf(t, m=0.0, s=1.0):
    tt = torch.where(t > 0, t, torch.ones_like(t))
    p = torch.exp(-((torch.log(tt) - m) ** 2) / (2 * s * s)) / (s * math.sqrt(2 * math.pi) * tt)
    return torch.where(t > 0, p, torch.zeros_like(p))


PLANTED = {
    "schedule.logit_normal": lambda u, m=0.0, s=1.0: torch.exp(m + s * u),        # 04's "log-normal" taken literally
    "schedule.logit_normal_pdf": _lognormal_pdf,
}


@pytest.mark.parametrize("clause", sorted(PLANTED))
def test_planted_bug_fails_exactly_its_clause(clause):
    res = check(_with(clause, PLANTED[clause]), ["schedule"], target_independent=False)
    assert failing(res) == {clause}, {k: r.failures for k, r in res.items() if r.failures}


def test_log_normal_variant_conforms_when_declared():
    """Declaring 04's variant makes the literal log-normal conform: the harness checks the declared variant."""
    tgt = _with("schedule.logit_normal", PLANTED["schedule.logit_normal"])
    tgt.conventions["schedule.logit_normal"] = {"name": "log_normal"}
    assert failing(check(tgt, ["schedule.logit_normal"], target_independent=False)) == set()


# ---- measured claims ------------------------------------------------------------------------------
MEASURED = {}


def test_logit_normal_sampler_passes_ks_test():
    u = np.random.default_rng(KS_SEED).standard_normal(KS_N)
    for m, s in ((0.0, 1.0), (0.5, 0.7)):
        t = R.logit_normal_sample(u, m, s)
        res = stats.kstest(t, lambda q, m=m, s=s: stats.norm.cdf((np.log(q) - np.log1p(-q) - m) / s))
        MEASURED[("ks", m, s)] = (res.statistic, res.pvalue)
        assert res.pvalue > 1e-3, res
    # the log-normal reading is rejected outright
    def cdf(q):
        with np.errstate(divide="ignore", invalid="ignore"):
            qq = np.minimum(q, 0.5)                                  # any value: masked where q ≥ 1
            qq = np.where(q < 1, q, qq)
            return np.where(q < 1, stats.norm.cdf(np.log(qq) - np.log1p(-qq)), 1.0)
    bad = stats.kstest(np.exp(u), cdf)
    assert bad.pvalue < 1e-100


def test_logit_normal_density_integrates_to_one():
    for m, s in ((0.0, 1.0), (0.5, 0.7), (-1.0, 2.0), (2.0, 0.3)):
        total, err = integrate.quad(lambda q, m=m, s=s: float(R.logit_normal_pdf(np.array([q]), m, s)[0]), 0, 1,
                                     limit=200)
        MEASURED[("quad", m, s)] = (total, err)
        assert total == pytest.approx(1.0, abs=1e-10)
    # 04's variant: a density on (0, ∞), and its odds mapping t = r/(1 + r)
    total = integrate.quad(lambda q: float(R.logit_normal_pdf(np.array([q]), 0.0, 1.0,
                                                              name="log_normal")[0]), 0, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    u = np.linspace(-3, 3, 7)
    r = R.logit_normal_sample(u, name="log_normal")
    np.testing.assert_allclose(r / (1 + r), R.logit_normal_sample(u), rtol=1e-15)


def test_uniform_sampler_and_shift_values():
    u = np.random.default_rng(KS_SEED).standard_normal(KS_N)
    assert stats.kstest(R.uniform_sample(u), "uniform").pvalue > 1e-3
    np.testing.assert_allclose(R.shift(np.array([0.0, 0.5, 1.0]), 3.0), [0.0, 0.75, 1.0], rtol=1e-15)   # SD3's s = 3
    t = np.linspace(0.01, 0.99, 9)
    snr = lambda q: ((1 - q) / q) ** 2
    np.testing.assert_allclose(snr(R.shift(t, 3.0)), snr(t) / 9, rtol=1e-12)


def test_accelerated_dtypes():
    u = torch.randn(5, dtype=torch.bfloat16)
    assert A.logit_normal_sample(u).dtype == torch.bfloat16 and A.uniform_sample(u).dtype == torch.bfloat16
    assert float(A.logit_normal_pdf(torch.tensor([0.0, 1.0])).abs().sum()) == 0.0


@pytest.mark.parametrize("call, clause, arg", [
    (lambda: R.logit_normal_sample(np.zeros(3), s=0.0), "schedule.logit_normal", "s"),
    (lambda: R.logit_normal_sample(np.zeros(3), name="lognormal"), "schedule.logit_normal", "name"),
    (lambda: R.logit_normal_pdf(np.array([1.2])), "schedule.logit_normal_pdf", "t"),
    (lambda: R.logit_normal_pdf(np.array([-0.1]), name="log_normal"), "schedule.logit_normal_pdf", "t"),
    (lambda: R.shift(np.array([0.5]), -1.0), "schedule.shift", "s"),
    (lambda: R.shift(np.array([np.inf]), 2.0), "schedule.shift", "t"),
    (lambda: R.uniform_sample("u"), "schedule.uniform", "u"),
    (lambda: A.shift(torch.tensor([0.5]), 0.0), "schedule.shift", "s"),
])
def test_bad_input_names_clause_and_argument(call, clause, arg):
    with pytest.raises(SpecInputError) as e:
        call()
    assert e.value.clause == clause and e.value.argument == arg
