"""The configurations shipped in the package, ``igmtf init``, and clean errors for bad YAML files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import igmtf_sklearn.workflow as workflow
from igmtf_sklearn.cli import main
from igmtf_sklearn.workflow import (
    builtin_configs,
    load_config,
    resolve_config,
    validate_config,
    write_config,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "igmtf_sklearn" / "workflow" / "configs"
EXAMPLES = ROOT / "examples"


def test_the_examples_are_the_packaged_configs():
    # The package's copy is the source of truth (it is what a fresh install has);
    # examples/ holds the same files for readers of the repository.
    packaged = sorted(p.name for p in PACKAGED.glob("*.yaml"))
    assert packaged == sorted(f"{name}.yaml" for name in builtin_configs())
    assert packaged == sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    for name in packaged:
        assert (EXAMPLES / name).read_text() == (PACKAGED / name).read_text(), (
            f"examples/{name} differs from igmtf_sklearn/workflow/configs/{name}: edit the "
            f"packaged file, then copy it over: cp {PACKAGED / name} {EXAMPLES / name}"
        )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_the_configs_and_the_type_marker_are_package_data():
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    assert "configs/*.yaml" in package_data["igmtf_sklearn.workflow"]
    assert "py.typed" in package_data["igmtf_sklearn"]
    assert (ROOT / "igmtf_sklearn" / "py.typed").is_file()


@pytest.mark.parametrize("name", ["synthetic_small", "csi300_alpha360"])
def test_builtin_names_resolve_from_any_folder(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config(name).name == f"{name}.yaml"
    assert resolve_config(f"{name}.yaml").name == f"{name}.yaml"
    assert load_config(name) == load_config(PACKAGED / f"{name}.yaml")


def test_the_small_config_is_valid():
    config = validate_config(load_config("synthetic_small"))
    assert config["model"]["lr"] == 1.0e-3  # a float, written with a dot


def test_a_file_wins_over_a_builtin_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("synthetic_small").write_text("title: mine\n")
    assert load_config("synthetic_small") == {"title": "mine"}


def test_an_unknown_name_lists_the_builtin_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "no_such_config"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "'no_such_config' does not exist" in error
    assert "synthetic_small" in error and "igmtf init" in error


def test_run_accepts_a_builtin_name(tmp_path, monkeypatch, capsys):
    # The whole run is tested in test_cli.py; here only which configuration reaches it.
    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_run(config, progress):
        seen.update(config=config, progress=progress)
        metrics = {"signal": {"IC": 0.1}}
        metrics.update(excess_return_without_cost={}, excess_return_with_cost={})
        return {"metrics": metrics, "output_dir": "out", "files": {}}

    monkeypatch.setattr(workflow, "run_workflow", fake_run)
    assert main(["run", "synthetic_small", "--quiet", "--threads", "1"]) == 0
    expected = load_config("synthetic_small")
    expected["model"]["n_threads"] = 1
    assert seen == {"config": expected, "progress": False}
    assert "IC" in capsys.readouterr().out


def test_init_writes_a_starter_config_and_never_overwrites(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    written = tmp_path / "synthetic_small.yaml"
    assert written.read_text() == (PACKAGED / "synthetic_small.yaml").read_text()
    assert "igmtf run synthetic_small.yaml" in capsys.readouterr().out

    written.write_text("title: my edits\n")
    assert main(["init"]) == 2
    error = capsys.readouterr().err
    assert "'synthetic_small.yaml' exists already" in error and error.count("\n") == 1
    assert written.read_text() == "title: my edits\n"  # untouched


def test_init_names_a_path_or_a_folder(tmp_path, capsys):
    assert main(["init", "csi300_alpha360", str(tmp_path / "mine.yaml")]) == 0
    assert load_config(tmp_path / "mine.yaml") == load_config("csi300_alpha360")
    (tmp_path / "folder").mkdir()
    assert main(["init", "synthetic_small", str(tmp_path / "folder")]) == 0
    assert (tmp_path / "folder" / "synthetic_small.yaml").is_file()


def test_init_refuses_an_unknown_name(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["init", "bogus"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="No built-in configuration named 'bogus'"):
        write_config("bogus")


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        (
            "data:\n  synthetic: {n_instruments: 20\nsegments: x\n",
            "line 3, column 9",
            "close the {",
        ),
        ("data:\n  synthetic:\n\tn_days: 20\n", "line 3, column 1", "spaces, not tabs"),
        ("title: a: b\n", "line 1, column 9", "quote values"),
        ("data: [1, 2\n", "line 2, column 1", "close the { or ["),
        ("data:\n    a: 1\n  b: 2\n", "line 3, column 3", "indentation"),
    ],
)
def test_malformed_yaml_is_one_clean_line(text, where, fix, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=where) as error:
        load_config(path)
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert main(["run", str(path)]) == 2
    message = capsys.readouterr().err
    assert message.startswith(f"igmtf run: {str(path)!r} is not valid YAML, {where}: ")
    assert fix in message
    assert message.count("\n") == 1  # one line, no traceback


def test_the_csi300_config_without_its_data_says_where_it_looked(tmp_path, monkeypatch, capsys):
    # Run from a folder with no ../shared/data beside it: a clean error, no work done.
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert main(["run", "csi300_alpha360", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "'../shared/data/cn_csi300' is not a Qlib data folder" in error
    assert f"relative paths start from {str(tmp_path / 'here')!r}" in error
    assert not (tmp_path / "here" / "runs").exists()


def test_the_recommended_lines_of_the_csi300_config_work_uncommented(tmp_path):
    """csi300_alpha360 shows the recommended configuration as comments to remove."""
    import yaml

    text = (PACKAGED / "csi300_alpha360.yaml").read_text()
    for commented in ("  # pretrain_monitor:", "# ensemble:", "#   seeds:"):
        assert commented in text
        text = text.replace(commented, commented.replace("# ", "", 1))
    config = yaml.safe_load(text)
    config.update(data={"synthetic": {"n_instruments": 5, "n_days": 30}}, output_dir=tmp_path)
    config["segments"] = {
        "train": ["2015-01-01", "2015-01-20"],
        "valid": ["2015-01-21", "2015-01-31"],
        "test": ["2015-02-01", "2015-02-10"],
    }
    checked = validate_config(config)
    assert checked["model"]["pretrain_monitor"] == "valid_ic"
    assert checked["ensemble"] == {"seeds": 3}
