"""Hostile input: nothing lost, nothing silently wrong, no hang, one clear message.

Each test here stands for a way a user's input (or a signal, or a machine)
once made the command line or the library lose data, print a wrong answer,
hang, or crash with a traceback. The fuzz tests at the end throw generated
formulas, CSV files, checkpoint descriptions and state files at the readers:
each must either accept the input or refuse it with its own error type.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hea_dvae import checkpoint, workers
from hea_dvae.cli import BadInput, main, read_formulas
from hea_dvae.compositions import MAX_FORMULA_LENGTH, composition_vector
from hea_dvae.design.constraints import ConstraintError, Constraints
from hea_dvae.elements import ELEMENTS
from hea_dvae.files import OutputError, check_output, write_files
from hea_dvae.model import SSVAE, SSVAEConfig
from hea_dvae.design.screen import ScreenStateError, screen
from hea_dvae.predictors import released_predictor
from synthetic import synthetic_alloys

SRC = Path(__file__).resolve().parents[1] / "src"
TESTS = Path(__file__).resolve().parent


def run_cli(*arguments, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "HEA_DVAE_PROGRESS": "0", **kwargs.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "hea_dvae", *arguments], capture_output=True, text=True,
                          env=env, timeout=timeout, **kwargs)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("HEA_DVAE_PROGRESS", "0")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """An untrained checkpoint with a realistic scaler: enough to predict and design with."""
    torch.manual_seed(0)
    model = SSVAE(SSVAEConfig(hidden=(8, 8)))
    e = synthetic_alloys(50, 0)[["k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix", "delta_h_mix"]]
    model.set_scaler(e.mean().to_numpy(), e.std().to_numpy())
    return checkpoint.save(model.eval(), tmp_path_factory.mktemp("models") / "tiny")


# --------------------------------------------------------------------------
# Data loss


@pytest.mark.needs_data
def test_train_refuses_a_folder_that_holds_other_files(tmp_path, capsys):
    out = tmp_path / "d"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("data")
    assert main(["train", "--out", str(out), "--epochs", "1", "--quiet"]) == 2
    assert "not empty and is not a checkpoint" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sub"]
    assert (out / "notes.txt").read_text() == "data"


@pytest.mark.needs_data
def test_train_replaces_a_checkpoint_only_with_force(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--seed", "1", "--quiet"]) == 0
    first = checkpoint.read_config(out)["weights_sha256"]
    assert main(["train", "--out", str(out), "--epochs", "1", "--seed", "2", "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    assert checkpoint.read_config(out)["weights_sha256"] == first
    assert main(["train", "--out", str(out), "--epochs", "1", "--seed", "2", "--quiet", "--force"]) == 0
    assert checkpoint.read_config(out)["weights_sha256"] != first
    assert (out / "history.csv").is_file()


def test_writing_through_a_symbolic_link_keeps_the_link(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_files({link: "new"})
    assert link.is_symlink() and target.read_text() == "new"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "not-yet.csv")
    write_files({dangling: "made"})
    assert dangling.is_symlink() and (tmp_path / "not-yet.csv").read_text() == "made"


def test_a_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_files({fifo: "through the pipe"})
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_device_is_written_in_place(tmp_path):
    write_files({"/dev/null": "discarded"})
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    if os.path.exists("/dev/full"):
        with pytest.raises(OutputError, match="/dev/full"):
            write_files({"/dev/full": "no room"})
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_all_or_none_when_one_output_fails(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("before")
    # A failure while staging leaves every file as it was and no temporary behind.
    with pytest.raises(OutputError, match="missing"):
        write_files({good: "after", tmp_path / "missing" / "t.csv": "x"})
    assert good.read_text() == "before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv"]


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        write_files({tmp_path / "out.csv": "x"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    path.chmod(0o640)
    write_files({path: "new"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == "new"


@pytest.mark.parametrize("where", ["folder", "missing", "readonly"])
def test_unwritable_outputs_are_found_before_any_work(tmp_path, where):
    if where == "folder":
        path, words = tmp_path, "is a folder"
    elif where == "missing":
        path, words = tmp_path / "no" / "t.csv", "does not exist"
    else:
        if os.geteuid() == 0:
            path, words = Path("/proc/version"), "cannot write|permission"
        else:
            locked = tmp_path / "locked"
            locked.mkdir(mode=0o500)
            path, words = locked / "t.csv", "cannot write"
    with pytest.raises(OutputError, match=words):
        check_output(path, "--trajectory")


@pytest.mark.needs_data
def test_invert_checks_the_trajectory_before_inverting(model_dir, tmp_path, monkeypatch, capsys):
    from hea_dvae import design

    monkeypatch.setattr(design, "invert_gradient", lambda *a, **k: pytest.fail("inverted before checking"))
    good = tmp_path / "good.csv"
    status = main(["design", "invert", "--seed", "CoCrFeNi", "--model", str(model_dir), "--out", str(good),
                   "--trajectory", "/proc/t.csv"])
    assert status == 2
    assert "--trajectory /proc/t.csv" in capsys.readouterr().err
    assert not good.exists()


@pytest.mark.needs_data
def test_sigterm_saves_a_resumable_screen_and_says_so(model_dir, tmp_path):
    state = tmp_path / "screen-state.npz"
    env = {**os.environ, "PYTHONPATH": str(SRC), "HEA_DVAE_PROGRESS": "1"}
    # The 5.5e8 alloys: many minutes of work, interrupted once the screen runs.
    process = subprocess.Popen(
        [sys.executable, "-m", "hea_dvae", "design", "screen", "--model", str(model_dir), "--k", "5",
         "--min-fraction", "0.05", "--max-fraction", "0.8", "--step", "0.05", "--top", "5",
         "--resume", str(state), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    err = b""
    while not re.search(rb"\d[kM]/552M", err):  # the progress bar: batches have been scored
        chunk = process.stderr.read1(4096)
        assert chunk, f"the screen ended before it was interrupted: {err.decode()}"
        err += chunk
    process.send_signal(signal.SIGTERM)
    out, rest = process.communicate(timeout=120)
    err = (err + rest).decode()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert f"progress saved to {state}" in err and "rerun the same command" in err
    assert out == b""
    from hea_dvae.cli import load_predictor

    resumed = screen(load_predictor(str(model_dir)), Constraints(
        n_elements=5, min_fraction=0.05, max_fraction=0.8, step=0.05), top=5, state_file=state,
        max_batches=0, workers=1, progress=False)
    assert 0 < resumed.summary["alloys"] < resumed.summary["space"]


# --------------------------------------------------------------------------
# Silently wrong


def test_a_csv_without_a_header_is_refused_not_shortened(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("CoCrFeNi,1\nAlCoCrFeNi,0\n")
    with pytest.raises(BadInput, match=r"line 1: a CSV file must start with a header line naming a 'formula'"):
        read_formulas(str(path))
    path.write_text("alloy,label\nCoCrFeNi,1\n")
    with pytest.raises(BadInput, match="'formula' column"):
        read_formulas(str(path))
    path.write_text("label,Formula\n1,CoCrFeNi\n0,AlCoCrFeNi\n")
    assert [f for f, _ in read_formulas(str(path))] == ["CoCrFeNi", "AlCoCrFeNi"]


@pytest.mark.parametrize("formula, words", [
    ("CoCrFeNi1e400", "not a finite number"),
    ("CoCrFeNi1e-400", "zero amount for Ni"),
    ("Co1e300Ni1e-300", "too small beside the others"),
    ("((CoCr)1e300)1e300Fe", "not finite"),
    ("Fe1e308Ni1e308", "add up to a number that is not finite"),
    ("Fe(Ni", "never closed"),
    ("FeNi)", "unbalanced"),
    ("Fe()", "empty brackets"),
    ("2Fe", "follows no element"),
])
def test_amounts_must_be_finite_positive_numbers(formula, words):
    with pytest.raises(ValueError, match=words):
        composition_vector(formula)


@pytest.mark.needs_data
def test_predict_refuses_an_infinite_amount(model_dir, capsys):
    assert main(["predict", "--model", str(model_dir), "CoCrFeNi1e400"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "not a finite number" in captured.err


@pytest.mark.needs_data
def test_invert_refuses_an_infinite_seed_before_work(model_dir, capsys):
    assert main(["design", "invert", "--seed", "CoCrFeNi1e400", "--model", str(model_dir)]) == 2
    assert "not a finite number" in capsys.readouterr().err


@pytest.mark.needs_data
def test_predict_flags_alloys_outside_the_data_and_a_single_models_spread(model_dir, capsys):
    assert main(["predict", "--model", str(model_dir), "Fe", "Li", "Au", "CoCrFeNi"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out), comment="#")
    assert table["outside_data"].tolist() == [True, True, True, False]
    assert table["in_dataset"].tolist() == [False, False, False, True]
    assert table["spread"].isna().all()  # one model: "not available", never 0


@pytest.mark.needs_data
def test_released_model_spread_reads_not_available():
    predictor = released_predictor()
    e = predictor.featurize(np.eye(len(ELEMENTS))[:2] * 0.5 + np.eye(len(ELEMENTS))[[1, 2]] * 0.5)
    assert np.isnan(predictor.predict_spread(e)).all()


@pytest.mark.needs_data
def test_a_pure_element_is_never_a_design_success(model_dir, capsys):
    from hea_dvae import design
    from hea_dvae.cli import load_predictor

    predictor = load_predictor(str(model_dir))
    result = design.invert_gradient(["Fe"], predictor, target=0.01, constraints={"elements": ["Fe"]}, steps=5)
    assert result.final["n_elements"].tolist() == [1]
    assert result.final["success"].tolist() == [False]


def test_yaml_reads_element_symbols_as_text(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("elements: [NO, Fe]\n")
    with pytest.raises(ConstraintError, match="'NO' not among"):
        Constraints.from_file(path)
    path.write_text("elements: [Fe, Ni, Co, Cr]\nrequired: [Fe]\nn_elements: 4\n")
    assert Constraints.from_file(path).pool() == ("Fe", "Ni", "Cr", "Co")
    path.write_text("a: &a [Fe, Ni]\nelements: *a\n")
    with pytest.raises(ConstraintError, match="aliases"):
        Constraints.from_file(path)


# --------------------------------------------------------------------------
# Hangs and crashes


def test_a_ten_megabyte_formula_is_refused_at_once(tmp_path):
    path = tmp_path / "huge.txt"
    path.write_text("Fe" * (5 * 1024 * 1024) + "\n")
    started = time.perf_counter()
    result = run_cli("predict", "--model", "released", "--input", str(path), timeout=120)
    assert result.returncode == 2
    assert f"longer than the {MAX_FORMULA_LENGTH:,} characters" in result.stderr
    assert len(result.stderr) < 1000  # the line is not echoed
    assert time.perf_counter() - started < 120


def test_formula_parsing_is_linear():
    # The reader refuses beyond the cap, and within it handles nesting without rescanning.
    nested = "(" * 300 + "Fe" + ")2" * 300
    assert len(nested) <= MAX_FORMULA_LENGTH
    np.testing.assert_allclose(composition_vector(nested), composition_vector("Fe"))


@pytest.mark.slow
def test_a_plain_script_without_a_main_guard_trains_in_workers(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from hea_dvae import zoo
        from hea_dvae.model import SSVAEConfig
        from hea_dvae.train import TrainConfig
        from synthetic import synthetic_split
        print("script body ran")
        split = synthetic_split(40, 10, 20)
        config = TrainConfig(model=SSVAEConfig(hidden=(4, 4)), epochs=2)
        jobs = [(split["labelled"], split["unlabelled"], split["validation"], config, seed) for seed in (0, 1)]
        print("trained", zoo.train_missing(jobs, workers=2, progress=False))
    """))
    env = {**os.environ, "PYTHONPATH": str(SRC), "HEA_DVAE_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["script body ran", "trained 2"]
    assert "Traceback" not in result.stderr


def test_workers_stop_when_their_parent_is_killed(tmp_path):
    pids = tmp_path / "pids"
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        from hea_dvae import workers
        from worker_jobs import sleep_and_record
        workers.run(sleep_and_record, [({str(pids)!r}, 600)] * 2, workers=2)
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    parent = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
        time.sleep(0.2)
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2
    parent.kill()
    parent.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not yet reaped) has stopped working.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(") ")[-1][0] != "Z"


def test_a_job_error_comes_back_as_itself(monkeypatch):
    from worker_jobs import divide

    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    with pytest.raises(ZeroDivisionError):
        workers.run(divide, [(1, 1), (1, 0)], workers=2)
    assert workers.run(divide, [(6, 3), (1, 4)], workers=2) == [2.0, 0.25]


def test_a_config_json_that_is_not_an_object_is_one_message(model_dir, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("[1, 2, 3]")
    (broken / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    assert main(["predict", "--model", str(broken), "CoCrFeNi"]) == 1
    err = capsys.readouterr().err
    assert "not an object" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_a_crafted_model_configuration_allocates_nothing_big(model_dir, tmp_path):
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    description = checkpoint.read_config(model_dir)
    description["model"]["hidden"] = [10**9, 10**9]
    del description["weights_sha256"]
    (crafted / "config.json").write_text(json.dumps(description))
    (crafted / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    with pytest.raises(checkpoint.CheckpointError, match="shape mismatch"):
        checkpoint.load(crafted)


def _state_args(model_dir):
    from hea_dvae.cli import load_predictor

    return load_predictor(str(model_dir)), Constraints(elements=ELEMENTS[:6], n_elements=3)


@pytest.mark.needs_data
def test_a_text_file_as_state_is_one_clear_message(model_dir, tmp_path):
    predictor, space = _state_args(model_dir)
    state = tmp_path / "state.npz"
    state.write_text("not a state")
    with pytest.raises(ScreenStateError) as error:
        screen(predictor, space, state_file=state, progress=False)
    assert "not a NumPy .npz archive" in str(error.value) and "allow_pickle" not in str(error.value)


@pytest.mark.needs_data
@pytest.mark.parametrize("damage", ["no ids", "huge header", "done beyond the space", "rows beyond the space"])
def test_a_crafted_state_file_is_refused_without_allocating(model_dir, tmp_path, damage):
    predictor, space = _state_args(model_dir)
    state = tmp_path / "state.npz"
    screen(predictor, space, top=5, state_file=state, progress=False)
    with np.load(state) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(str(arrays["meta"]))
    buffer = io.BytesIO()
    if damage == "no ids":
        del arrays["ids"]
    elif damage == "done beyond the space":
        meta["done"] = [[0, 10**12]]
    elif damage == "rows beyond the space":
        meta["rows"] = 10**15
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(buffer, **arrays)
    content = buffer.getvalue()
    if damage == "huge header":
        # An .npy header claiming 10^10 float64 top alloys (80 GB) inside a small file.
        with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(state, "w") as target:
            for name in source.namelist():
                data = source.read(name)
                if name == "p.npy":
                    header = io.BytesIO()
                    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                                  "shape": (10**10,)})
                    data = header.getvalue() + b"\0" * 64
                target.writestr(name, data)
    else:
        state.write_bytes(content)
    with pytest.raises(ScreenStateError, match="not a screen state file"):
        screen(predictor, space, top=5, state_file=state, progress=False)


def test_negative_numbers_in_scientific_notation_are_numbers(capsys):
    from hea_dvae.cli import build_parser

    args = build_parser().parse_args(["design", "latent", "--z", "0", "-1e-3", "--y", "0.9"])
    assert args.z == [0.0, -0.001]
    args = build_parser().parse_args(["design", "latent", "--z", "-.5e1", "-2"])
    assert args.z == [-5.0, -2.0]


@pytest.mark.parametrize("option, value", [("--z", "nan"), ("--z", "inf"), ("--y", "nan")])
def test_non_finite_numbers_name_their_option(option, value, capsys):
    arguments = ["design", "latent", "--z", "0", "0", option, value]
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2
    assert f"argument {option}: '{value}' is not a finite number" in capsys.readouterr().err


def test_offline_without_a_data_folder_says_what_to_do(tmp_path):
    env = {"HEA_DVAE_DATA_DIR": str(tmp_path / "empty"), "HEA_DVAE_DATA_URL": "http://127.0.0.1:9/"}
    (tmp_path / "empty").mkdir()
    result = run_cli("predict", "--model", "released", "CoCrFeNi", env=env, timeout=120)
    assert result.returncode == 1
    assert "cannot be downloaded" in result.stderr and "HEA_DVAE_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr
    assert list((tmp_path / "empty").iterdir()) == []


# --------------------------------------------------------------------------
# Fuzzing the readers

_FORMULA_ALPHABET = st.sampled_from([*ELEMENTS, "Xx", "O", "(", ")", "[", "]", " ", ".", "0", "1", "2.5", "e-3",
                                     "1e400", "-", ",", "é", "\n", "\0"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(_FORMULA_ALPHABET, max_size=40).map("".join), st.text(max_size=60)))
def test_fuzzed_formulas_give_a_composition_or_a_value_error(formula):
    try:
        x = composition_vector(formula)
    except ValueError as error:
        assert len(str(error)) < 600
        return
    assert x.shape == (len(ELEMENTS),) and np.isfinite(x).all() and (x >= 0).all()
    assert abs(x.sum() - 1) < 1e-9 and (x > 0).any()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("formula,label\n#CoCrFeNiAl0.5 \"'")), max_size=200))
def test_fuzzed_input_files_give_formulas_or_bad_input(tmp_path, content):
    path = tmp_path / "in.csv"
    path.write_text(content)
    try:
        rows = read_formulas(str(path))
    except BadInput:
        return
    assert all(isinstance(f, str) and origin.startswith(str(path)) for f, origin in rows)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["format", "format_version", "elements", "features", "table", "model", "scaler",
                        "weights_sha256", "package_version"]), _JSON)
def test_fuzzed_checkpoint_descriptions_are_refused_cleanly(model_dir, tmp_path_factory, field, value):
    folder = tmp_path_factory.mktemp("fuzzed")
    description = checkpoint.read_config(model_dir)
    description[field] = value
    (folder / "config.json").write_text(json.dumps(description))
    (folder / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    try:
        checkpoint.load(folder)
    except checkpoint.CheckpointError:
        pass


@pytest.mark.needs_data
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_fuzzed_state_files_are_refused_cleanly(model_dir, tmp_path_factory, content):
    predictor, space = _state_args(model_dir)
    state = tmp_path_factory.mktemp("state") / "state.npz"
    state.write_bytes(content)
    with pytest.raises(ScreenStateError):
        screen(predictor, space, top=5, state_file=state, progress=False)
