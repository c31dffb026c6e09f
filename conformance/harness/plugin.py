"""The pytest plugin behind ``genspec conform``: options, test generation, per-clause report.

Under ``genspec conform`` pytest runs without its terminal reporter; this plugin then prints the failures, one
table and one summary line itself. Run directly (``pytest -p conformance.harness.plugin ...``) it adds its table to
pytest's usual output.
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import astuple

import pytest

from genspec import spec
from genspec.spec.errors import GenspecError, TargetError

from . import report, run
from .background import Background
from .context import Context, validate_options
from .registry import checks_for, select
from .target import BUILTIN, Target, load, row_name

EXIT_NOTHING_CHECKED = 5
"""the exit status of a run in which the target implements none of the selected clauses (pytest's 'no tests')."""


def pytest_addoption(parser):
    g = parser.getgroup("genspec", "genspec conformance")
    g.addoption("--target", dest="genspec_target", default=os.environ.get("GENSPEC_TARGET", "accelerated"),
                help="reference | accelerated | module | module:attr (env GENSPEC_TARGET)")
    g.addoption("--dtype", dest="genspec_dtype", default="float64", choices=list(spec.schema.DTYPES))
    g.addoption("--device", dest="genspec_device", default="cpu")
    g.addoption("--profile", dest="genspec_profile", default="ci", choices=sorted(run.PROFILES))
    g.addoption("--clause", dest="genspec_clause", action="append", default=[],
                help="clause selector: exact id, family or module name, dotted prefix, or glob (repeatable)")
    g.addoption("--timeout", dest="genspec_timeout", type=float, default=20.0,
                help="seconds one target call may take before its clause fails (> 0)")
    g.addoption("--report-json", dest="genspec_report_json", default=None)
    g.addoption("--no-table", dest="genspec_no_table", action="store_true")
    g.addoption("--seed", dest="genspec_seed", type=int, default=None,
                help="hypothesis' seed for the random profiles (dev, thorough): replays a run; one is picked otherwise")


def load_target(spec_str: str) -> Target:
    """:func:`target.load` for the command line: also a path to a ``.py`` file (``path/to/mylib.py[:attr]``, imported
    as ``mylib`` with its directory on ``sys.path``), and one :class:`TargetError` line for a module that is missing,
    raises while it is imported, or has a syntax error (never a traceback)."""
    modname, colon, attr = spec_str.partition(":")
    if modname.endswith(".py") or os.sep in modname or "/" in modname:
        if not os.path.isfile(modname):
            raise TargetError(f"--target {spec_str}: no such file {modname!r}")
        folder, base = os.path.split(os.path.abspath(modname))
        if folder not in sys.path:
            sys.path.insert(0, folder)
        modname = base.removesuffix(".py")
        spec_str = modname + colon + attr
    elif modname not in BUILTIN and "." not in modname:
        try:
            found = importlib.util.find_spec(modname) is not None
        except (ImportError, ValueError):
            found = True  # let load() name the problem
        from genspec.conformance import adapters
        if not found and modname not in adapters.ADAPTERS:
            raise TargetError(f"cannot import target module {modname!r}: no module of that name on the path; give "
                              f"the module's name with its folder on PYTHONPATH (the current directory is on it), or "
                              f"the path to its .py file")
    try:
        return load(spec_str)
    except GenspecError:
        raise
    except Exception as e:  # noqa: BLE001 - the target's own module raised while it was imported or built
        raise TargetError(f"target module {modname!r} raised {type(e).__name__} while it was imported: "
                          f"{str(e).splitlines()[0] if str(e) else '(no message)'}") from None


class State:
    def __init__(self, config) -> None:
        o = config.option
        self.target_spec = o.genspec_target
        try:
            self.target = load_target(o.genspec_target)
            validate_options(self.target, o.genspec_dtype, o.genspec_device, o.genspec_timeout)
            self.clauses = select(o.genspec_clause)
        except GenspecError as e:
            raise pytest.UsageError(f"genspec: {e}") from None
        self.profile = o.genspec_profile
        seed = None
        if not run.PROFILES[self.profile].get("derandomize"):   # random: a seed the header prints, --seed replays
            seed = o.genspec_seed if o.genspec_seed is not None else random.randrange(2**32)
        # a target declaring several variant combinations: run i checks each clause in its i-th (as api.check)
        self.ctxs = [Context(target=self.target.in_run(i) if self.target.variants else self.target,
                             dtype=o.genspec_dtype, device=o.genspec_device, timeout=o.genspec_timeout,
                             target_spec=self.target_spec, seed=seed) for i in range(self.target.variant_runs())]
        self.ctx = self.ctxs[0]
        self.rows = [(row_name(c, v.target.variant_label(c)), c, i) for c in self.clauses
                     for i, v in enumerate(self.ctxs) if i == 0 or v.target.binding(c) is not None]
        """the report's rows, as api.check names them: (row, clause id, run) — a clause once per declared variant
        combination, the first in run 0 (which also runs the target-independent checks)."""
        self.outcomes: dict[str, list[dict]] = {r: [] for r, _, _ in self.rows}
        self.t0 = time.perf_counter()
        self.report: dict | None = None
        self.background = Background([], self.profile)
        self.order: dict[str, int] = {}           # xdist worker: nodeid → the serial run's position
        self.shipped: dict[str, tuple[int, dict]] = {}   # xdist controller: nodeid → (position, record delta)


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
    run.PRINT_BLOB = False  # the failure message ends with genspec's own `reproduce:` line
    run.keep_hypothesis_out_of_cwd()
    config.stash[_KEY] = State(config)
    _import_project(getattr(config, "workerinput", {}).get("genspec_modules", ()))


_PROJECT = ("genspec.spec", "genspec.reference", "genspec.accelerated", "genspec.conformance.harness",
            "genspec.conformance.checks")


def _local_modules() -> list[str]:
    """The names of the imported modules of this project (not the standard library's, not site-packages')."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return sorted(n for n, m in list(sys.modules.items())
                  if n != "__main__" and (getattr(m, "__file__", None) or "").startswith(root + os.sep))


def _import_project(also=()) -> None:
    """Import every module a check may import, before any check draws. Each check keeps the source literals of the
    modules loaded by then out of hypothesis' draws (run._without_local_constants); a module first imported in the
    middle of a check would still add its own, so everything is loaded up front and every derandomized example is the
    same whatever ran first (a serial run, one clause alone, each pytest-xdist worker). ``also``: the modules the
    xdist controller had (e.g. those the genspec command line loads). accelerated.models (networks, not clauses) is
    not imported."""
    import importlib
    import pkgutil
    for name in _PROJECT:
        pkg = importlib.import_module(name)
        for m in pkgutil.walk_packages(pkg.__path__, name + "."):
            if not m.name.startswith("genspec.accelerated.models"):
                importlib.import_module(m.name)
    for name in also:
        importlib.import_module(name)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist controller: each worker imports the project modules this process has (see _import_project)."""
    node.workerinput["genspec_modules"] = _local_modules()


def state(config) -> State:
    return config.stash[_KEY]


def pytest_generate_tests(metafunc):
    """One test per clause and check; the target's checks once per declared variant combination (``variant``: the
    run), named by the report's row (``ddpm.beta_schedule (beta_schedule=scaled_linear):...``)."""
    st = state(metafunc.config)
    name = metafunc.function.__name__
    params, ids = [], []
    for row, cid, i in st.rows:
        chk = checks_for(cid)
        clause = spec.get(cid)
        if name == "test_proof" and i == 0:
            params += [(cid, p) for p in chk.proofs]
            ids += [f"{row}:{p.name}" for p in chk.proofs]
        elif name == "test_reference_matches_derivation" and chk.symbolic is not None and i == 0:
            params.append((cid, None))
            ids.append(row)
        elif name == "test_target_matches_reference" and clause.function is not None:
            params.append((cid, None, i))
            ids.append(row)
        elif name == "test_property":
            params += [(cid, p, i) for p in chk.properties]
            ids += [f"{row}:{p.name}" for p in chk.properties]
    names = ("clause_id", "item", "variant") if "variant" in metafunc.fixturenames else ("clause_id", "item")
    metafunc.parametrize(names, params, ids=ids)


def pytest_collection_modifyitems(session, config, items):
    """Drop the placeholder pytest makes for a check kind no selected clause has (an empty parameter set)."""
    if _KEY not in config.stash:
        return
    keep = [it for it in items
            if isinstance(getattr(getattr(it, "callspec", None), "params", {}).get("clause_id"), str)]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[it for it in items if it not in keep])
    # the target-independent checks last: a worker process computes them meanwhile (conformance/background.py)
    spec_side = [it for it in keep if _in_background(it)]
    items[:] = [it for it in keep if not _in_background(it)] + spec_side


_BACKGROUND = ("test_proof", "test_reference_matches_derivation")


def _in_background(item) -> bool:
    """Proofs, derivations and the properties of clauses with no function: none of them calls the target."""
    return item.originalname in _BACKGROUND or (
        item.originalname == "test_property" and spec.get(item.callspec.params["clause_id"]).function is None)


def pytest_collection_finish(session):
    config = session.config
    if _KEY not in config.stash:
        return
    st = state(config)
    st.order = {it.nodeid: i for i, it in enumerate(session.items)}
    if _xdist_worker(config):                       # the workers already share the cores: no background process
        return
    first, rest = [], []                            # the spec-only properties first: the longest jobs
    for it in session.items:
        if not (hasattr(it, "callspec") and _in_background(it)):
            continue
        cid, item = it.callspec.params["clause_id"], it.callspec.params.get("item")
        if it.originalname == "test_property":
            first.append(("property", cid, checks_for(cid).properties.index(item)))
        elif it.originalname == "test_proof":
            rest.append(("proof", cid, checks_for(cid).proofs.index(item)))
        else:
            rest.append(("derivation", cid, 0))
    st.background = Background(first + rest if not config.option.collectonly else [], st.profile, st.ctx.dtype)


def check_name(item) -> str:
    """The check's name as conformance.api and the report spell it: 'property:<name>', 'target_matches_reference'."""
    base = item.originalname.removeprefix("test_")
    sub = getattr(item.callspec.params.get("item"), "name", None)
    return f"{base}:{sub}" if sub else base


def _clause_item(item) -> bool:
    cs = getattr(item, "callspec", None)
    return _KEY in item.config.stash and cs is not None and "clause_id" in cs.params


def _run_of(item) -> int:
    """The variant run of a clause item (0: the first declared combination, and every target-independent check)."""
    return item.callspec.params.get("variant", 0)


def _row(item) -> str:
    st, cid = state(item.config), item.callspec.params["clause_id"]
    return row_name(cid, st.ctxs[_run_of(item)].target.variant_label(cid))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _clause_item(item):  # item.user_properties reach every report of the item, and the JUnit testcase
        item.user_properties += [("clause", _row(item)), ("check", check_name(item))]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Count the target calls a check makes: a check that makes none is a statement about the spec."""
    if not _clause_item(item):
        return (yield)
    st = state(item.config)
    ctx = st.ctxs[_run_of(item)]
    n0 = ctx.calls
    before = _record_state(ctx, item.callspec.params["clause_id"]) if _xdist_worker(item.config) else None
    try:
        return (yield)
    finally:
        item.user_properties.append(("target_calls", ctx.calls - n0))
        if before is not None:                      # the controller builds the report: send what this item learned
            cid = item.callspec.params["clause_id"]
            item.user_properties.append((_SHIPPED, {"order": st.order.get(item.nodeid, 0), "clause_id": cid,
                                                    "run": _run_of(item),
                                                    **_record_delta(before, _record_state(ctx, cid))}))


_SHIPPED = "genspec_xdist"
"""the user property carrying a worker's record of one item to the xdist controller (removed there)."""


def _xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _record_state(ctx, cid: str) -> dict:
    rec = ctx.records.get(cid)
    if rec is None:
        return {"checks": {}, "examples": 0, "evaluations": 0, "unsupported": []}
    return {"checks": {k: list(astuple(c)) for k, c in rec.checks.items()},   # every CheckRecord field, in order
            "examples": rec.examples, "evaluations": rec.evaluations, "unsupported": sorted(rec.unsupported)}


def _record_delta(before: dict, after: dict) -> dict:
    return {"checks": {k: v for k, v in after["checks"].items() if before["checks"].get(k) != v},
            "examples": after["examples"] - before["examples"],
            "evaluations": after["evaluations"] - before["evaluations"],
            "unsupported": sorted(set(after["unsupported"]) - set(before["unsupported"]))}


def _merge_shipped(st: State) -> None:
    """xdist controller: the workers' records into each run's ctx.records and each row's outcomes, in the serial run's
    order (so the report, the table and the JUnit file are the serial run's)."""
    from .context import CheckRecord, ClauseRecord
    ordered = sorted(st.shipped.items(), key=lambda kv: kv[1][0])
    for _, (_, d) in ordered:
        rec = st.ctxs[d["run"]].records.setdefault(d["clause_id"], ClauseRecord())
        for k, fields in d["checks"].items():
            rec.checks[k] = CheckRecord(*fields)
        rec.examples += d["examples"]
        rec.evaluations += d["evaluations"]
        rec.unsupported.update(d["unsupported"])
    for outs in st.outcomes.values():
        outs.sort(key=lambda o: st.shipped.get(o.get("nodeid", ""), (-1,))[0])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if _clause_item(item) and call.excinfo is not None and rep.failed:
        from .api import _message
        rep.genspec_message = _message(call.excinfo.value)  # the message itself, without hypothesis' notes
    return rep


def _logreport(config, rep):
    props = dict(rep.user_properties)
    cid = props.get("clause")
    if cid is None:
        return
    shipped = None if _xdist_worker(config) else props.pop(_SHIPPED, None)
    if shipped is not None:                          # from an xdist worker: keep it out of the JUnit properties
        rep.user_properties = [p for p in rep.user_properties if p[0] != _SHIPPED]
        if rep.when == "call" or (rep.when == "setup" and (rep.failed or rep.skipped)):
            state(config).shipped[rep.nodeid] = (shipped["order"], {"clause": cid, **shipped})
    if rep.when == "call" or (rep.when == "setup" and (rep.failed or rep.skipped)):
        outcome = "passed" if rep.passed else ("skipped" if rep.skipped else "failed")
        msg = ""
        if rep.skipped and isinstance(rep.longrepr, tuple):
            msg = rep.longrepr[2]
        elif rep.failed:
            msg = getattr(rep, "genspec_message", None) or _short(rep)
        out = {"check": props.get("check"), "outcome": outcome, "message": msg,
               "outside_support": "outside_support" in props, "target_calls": int(props.get("target_calls", 0))}
        if shipped is not None:
            out["nodeid"] = rep.nodeid               # for the serial order; dropped before the report
        state(config).outcomes.setdefault(cid, []).append(out)


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

    @pytest.hookimpl(tryfirst=True)                  # before junitxml writes the report's properties
    def pytest_runtest_logreport(self, report):
        _logreport(self.config, report)

    def pytest_collectreport(self, report):
        if report.failed and _quiet_terminal(self.config):  # no terminal reporter to show it: say it here
            print(f"genspec: error collecting the suite:\n{report.longrepr}", file=sys.stderr)


def _quiet_terminal(config) -> bool:
    """True under ``genspec conform``: pytest's terminal reporter is off and this plugin prints the results."""
    return config.pluginmanager.get_plugin("terminalreporter") is None


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if _KEY not in config.stash:
        return
    st = state(config)
    st.background.close()
    if st.shipped:
        _merge_shipped(st)
        for outs in st.outcomes.values():
            for o in outs:
                o.pop("nodeid", None)
    st.report = report.build(st, time.perf_counter() - st.t0)
    path = config.option.genspec_report_json
    if path:
        with open(path, "w") as f:
            json.dump(st.report, f, indent=2)
    if report.nothing_checked(st.report) and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = EXIT_NOTHING_CHECKED
    elif exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and not st.report["summary"]["failed"]:
        session.exitstatus = pytest.ExitCode.OK
    if _quiet_terminal(config):
        _print_results(config, st)


def _print_results(config, st) -> None:
    """genspec's own output: each failure, the table (unless --no-table), one summary line."""
    rep = st.report
    print("\n".join(report.terminal(rep, quiet=config.option.genspec_no_table)))
    why = report.nothing_checked(rep)
    if why:
        print(f"genspec: error: {why}", file=sys.stderr)
    sys.stdout.flush()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _KEY not in config.stash:
        return
    st = state(config)
    if st.report is None:
        st.report = report.build(st, time.perf_counter() - st.t0)
    if not config.option.genspec_no_table:
        terminalreporter.write_line("")
        for line in report.table(st.report):
            terminalreporter.write_line(line)
    why = report.nothing_checked(st.report)
    if why:
        terminalreporter.write_line(f"genspec: error: {why}", red=True)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """JUnit XML: move the testcases of spec-only clauses into their own <testsuite>, apart from the target's."""
    path = getattr(config.option, "xmlpath", None)
    if _KEY not in config.stash or not path or not os.path.exists(path) or state(config).report is None:
        return
    rep = state(config).report
    order = {nodeid.split("::", 1)[-1]: i for nodeid, (i, _) in state(config).shipped.items()}
    split_junit(path, {r["id"]: r["status"] for r in rep["clauses"]},
                {(r["id"], o["check"]): o["message"] for r in rep["clauses"] for o in r["checks"] if o["message"]},
                order)


def split_junit(path: str, status: dict[str, str], messages: dict | None = None,
                order: dict[str, int] | None = None) -> None:
    """Rewrite a pytest JUnit file: the root is named ``genspec``; each testcase gets a ``genspec_status`` property
    (its clause's status) and, where it failed, genspec's failure message as its body (not the harness' traceback);
    the testcases of ``spec-only`` clauses move to a second <testsuite name="genspec.spec-only">. ``order`` (test
    name → position; an xdist run) puts the testcases in the serial run's order."""
    tree = ET.parse(path)
    root = tree.getroot()
    root.set("name", "genspec")
    messages = messages or {}
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        return
    suite = suites[0]
    if order:
        cases = list(suite.iter("testcase"))
        for case in cases:
            suite.remove(case)
        suite.extend(sorted(cases, key=lambda c: order.get(c.get("name", ""), -1)))
    apart = ET.Element("testsuite", {"name": "genspec.spec-only"})
    for case in list(suite.iter("testcase")):
        props = case.find("properties")
        if props is None:
            continue
        clause = next((p.get("value") for p in props.iter("property") if p.get("name") == "clause"), None)
        if clause is None or clause not in status:
            continue
        ET.SubElement(props, "property", {"name": "genspec_status", "value": status[clause]})
        check = next((p.get("value") for p in props.iter("property") if p.get("name") == "check"), None)
        for tag in ("failure", "error"):
            el = case.find(tag)
            if el is not None and messages.get((clause, check)):
                el.text = messages[(clause, check)]
                el.set("message", messages[(clause, check)].splitlines()[0])
        if status[clause] == "spec-only":
            suite.remove(case)
            apart.append(case)
    if not len(apart):
        tree.write(path, encoding="utf-8", xml_declaration=True)
        return
    suite.set("name", "genspec.target")
    for s in (suite, apart):
        cases = list(s.iter("testcase"))
        s.set("tests", str(len(cases)))
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            s.set(attr, str(sum(c.find(tag) is not None for c in cases)))
        s.set("time", f"{sum(float(c.get('time', 0)) for c in cases):.3f}")
    if root.tag == "testsuite":
        new = ET.Element("testsuites", {"name": "genspec"})
        new.extend([suite, apart])
        tree = ET.ElementTree(new)
    else:
        root.append(apart)
    tree.write(path, encoding="utf-8", xml_declaration=True)
