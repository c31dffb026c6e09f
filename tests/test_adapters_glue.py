"""The pieces of the Target API that shrink the adapters' glue (issue 21, adapter size): conventions declared by
selector, and :func:`~genspec.conformance.recorded` (a library's network or loss as a recording module)."""
from __future__ import annotations

import pytest

from genspec.conformance import Target, recorded
from genspec.conformance.harness import api
from genspec.reference import cfg as RC
from genspec.spec.errors import TargetError


def scale_combine(v_y, v_null, w):
    return v_null + w * (v_y - v_null)             # the scale form: the harness hands it s = 1 + w


def scale_rescale(v_y, v_null, w, phi):
    return RC.rescaled_guidance(v_y, v_null, w, phi, form="scale")


def check(target, clauses):
    return api.check(target, clauses, target_independent=False, shrink=False)


def test_conventions_take_a_selector_and_apply_to_each_clause_that_has_them():
    bindings = {"cfg.combine": scale_combine, "cfg.rescale": scale_rescale}
    tgt = Target(name="lib", bindings=bindings, conventions={("cfg.combine", "cfg.rescale"): {"form": "scale"}})
    assert tgt.conventions_for("cfg.combine") == tgt.conventions_for("cfg.rescale") == {"form": "scale"}
    res = check(tgt, ["cfg.combine", "cfg.rescale"])
    assert {k: r.status for k, r in res.items()} == {"cfg.combine": "passed", "cfg.rescale": "passed"}
    # a later exact id refines what a selector declared; an exact id set after construction is read too
    tgt = Target(name="lib", bindings=bindings, conventions={"cfg.*": {"form": "scale"},
                                                             "cfg.rescale": {"form": "one_plus_w"}})
    assert tgt.conventions_for("cfg.combine") == {"form": "scale"}
    assert tgt.conventions_for("cfg.rescale") == {"form": "one_plus_w"}


def test_without_the_selector_the_scale_form_fails():
    res = check(Target(name="lib", bindings={"cfg.combine": scale_combine}), ["cfg.combine"])
    assert res["cfg.combine"].status == "failed"


def test_a_selector_convention_is_checked_when_the_target_loads():
    with pytest.raises(TargetError, match=r"cfg.combine convention 'form' has no variant 'scaled'"):
        Target(name="lib", bindings={}, conventions={("cfg.combine",): {"form": "scaled"}})
    with pytest.raises(TargetError, match=r"conventions= selector 'gan.\*' names no clause it applies to"):
        Target(name="lib", bindings={}, conventions={"gan.*": {"form": "scale"}})


def test_recorded_is_a_module_that_records_what_the_library_hands_it():
    torch = pytest.importorskip("torch")
    net = recorded(lambda x, times: 2 * x)
    x = torch.ones(2, 3)
    assert isinstance(net, torch.nn.Module) and next(net.parameters()).device == x.device
    assert torch.equal(net(x, times=torch.zeros(2)), 2 * x)
    assert net.args == (x,) and set(net.kwargs) == {"times"}
    loss = recorded(torch.nn.MSELoss())                # a library's loss: the target it regresses on is recorded
    assert float(loss(x, torch.zeros(2, 3))) == 1.0 and torch.equal(loss.args[1], torch.zeros(2, 3))
