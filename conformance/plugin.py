"""The pytest plugin behind ``genspec conform``: options, test generation, per-clause report."""
from __future__ import annotations

import json
import os
import sys
import time

import pytest

import spec

from . import report
from .context import Context
from .registry import checks_for, select
from .target import load


def pytest_addoption(parser):
    g = parser.getgroup("genspec", "genspec conformance")
    g.addoption("--target", dest="genspec_target", default=os.environ.get("GENSPEC_TARGET", "accelerated"),
                help="reference | accelerated | module | module:attr (env GENSPEC_TARGET)")
    g.addoption("--dtype", dest="genspec_dtype", default="float64", choices=list(spec.schema.DTYPES))
    g.addoption("--device", dest="genspec_device", default="cpu")
    g.addoption("--profile", dest="genspec_profile", default="ci", choices=["ci", "dev", "thorough"])
    g.addoption("--clause", dest="genspec_clause", action="append", default=[],
                help="clause id, family or prefix* (repeatable)")
    g.addoption("--timeout", dest="genspec_timeout", type=float, default=20.0,
                help="seconds one target call may take before its clause fails")
    g.addoption("--report-json", dest="genspec_report_json", default=None)
    g.addoption("--no-table", dest="genspec_no_table", action="store_true")


class State:
    def __init__(self, config) -> None:
        o = config.option
        self.target_spec = o.genspec_target
        self.target = load(o.genspec_target)
        self.ctx = Context(target=self.target, dtype=o.genspec_dtype, device=o.genspec_device,
                           timeout=o.genspec_timeout)
        self.ctx.target_spec = self.target_spec
        self.profile = o.genspec_profile
        self.clauses = select(o.genspec_clause)
        self.outcomes: dict[str, list[dict]] = {c: [] for c in self.clauses}
        self.t0 = time.perf_counter()
        self.report: dict | None = None


_KEY = pytest.StashKey[State]()


def pytest_configure(config):
    if not hasattr(config.option, "genspec_target"):
        return
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if config.option.genspec_device == "cpu":
        # the suite's tensors are tiny: one intra-op thread is faster than torch's default and steadier
        import torch
        torch.set_num_threads(int(os.environ.get("GENSPEC_TORCH_THREADS", "1")))
    config.stash[_KEY] = State(config)


def state(config) -> State:
    return config.stash[_KEY]


def pytest_generate_tests(metafunc):
    st = state(metafunc.config)
    name = metafunc.function.__name__
    params, ids = [], []
    for cid in st.clauses:
        chk = checks_for(cid)
        clause = spec.get(cid)
        if name == "test_proof":
            params += [(cid, p) for p in chk.proofs]
            ids += [f"{cid}:{p.name}" for p in chk.proofs]
        elif name == "test_reference_matches_derivation" and chk.symbolic is not None:
            params.append((cid, None))
            ids.append(cid)
        elif name == "test_target_matches_reference" and clause.function is not None:
            params.append((cid, None))
            ids.append(cid)
        elif name == "test_property":
            params += [(cid, p) for p in chk.properties]
            ids += [f"{cid}:{p.name}" for p in chk.properties]
    metafunc.parametrize(("clause_id", "item"), params, ids=ids)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    cs = getattr(item, "callspec", None)
    if cs is not None and "clause_id" in cs.params:
        rep.user_properties.append(("clause", cs.params["clause_id"]))
        rep.user_properties.append(("check", item.originalname + (
            f":{cs.params['item'].name}" if getattr(cs.params.get("item"), "name", None) else "")))




def _logreport(config, rep):
    props = dict(rep.user_properties)
    cid = props.get("clause")
    if cid is None:
        return
    if rep.when == "call" or (rep.when == "setup" and (rep.failed or rep.skipped)):
        outcome = "passed" if rep.passed else ("skipped" if rep.skipped else "failed")
        msg = ""
        if rep.skipped and isinstance(rep.longrepr, tuple):
            msg = rep.longrepr[2]
        elif rep.failed:
            msg = _short(rep)
        state(config).outcomes.setdefault(cid, []).append({"check": props.get("check"), "outcome": outcome,
                                                           "message": msg})


def _short(rep) -> str:
    crash = getattr(rep.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(rep.longrepr)
    return text.replace("AssertionError: ", "", 1)


def pytest_sessionstart(session):
    config = session.config
    if _KEY not in config.stash:
        return
    config.pluginmanager.register(_LogHook(config), "genspec-log")


class _LogHook:
    def __init__(self, config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report):
        _logreport(self.config, report)


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if _KEY not in config.stash:
        return
    st = state(config)
    st.report = report.build(st, time.perf_counter() - st.t0)
    path = config.option.genspec_report_json
    if path:
        with open(path, "w") as f:
            json.dump(st.report, f, indent=2)
    if st.report["summary"]["failed"] == 0 and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _KEY not in config.stash or config.option.genspec_no_table:
        return
    st = state(config)
    if st.report is None:
        st.report = report.build(st, time.perf_counter() - st.t0)
    terminalreporter.write_line("")
    for line in report.table(st.report):
        terminalreporter.write_line(line)
