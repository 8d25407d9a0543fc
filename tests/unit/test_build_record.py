"""`snakemake --report` with a config whose outputs are not built: one line naming the config to add."""
from __future__ import annotations

from mimflow.core.build_record import config_arguments, last_build, record_build, report_check


def test_config_arguments_as_the_command_line_gives_them():
    assert config_arguments(["presets/demo.yaml", "extra.yaml"], None) == [
        "--configfile=presets/demo.yaml", "--configfile=extra.yaml"]
    assert config_arguments(None, ["seeds=[1,2]"]) == ["--config", "seeds=[1,2]"]
    assert config_arguments(None, None) == []


def test_the_last_build_round_trips_and_a_bad_record_is_none(tmp_path):
    path = tmp_path / "record.json"
    assert last_build(path) is None
    record_build(["--configfile=presets/demo.yaml"], path)
    assert last_build(path) == ["--configfile=presets/demo.yaml"]
    path.write_text("{not json")
    assert last_build(path) is None


def test_report_check_names_the_config_that_built_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "built.png").write_bytes(b"x")
    targets = ["built.png", "results/figures/toy2d/MI_ksg.png", "other.png"]
    assert report_check(["built.png"], [], None, "results/report.html") is None
    line = report_check(targets, [], ["--configfile=presets/demo.yaml"], "results/report.html")
    assert "\n" not in line
    assert line == ("mimflow: --report: 2 of the 3 outputs of this config are not built (first: "
                    "results/figures/toy2d/MI_ksg.png); results/ were last built with --configfile=presets/demo.yaml: "
                    "run snakemake --report results/report.html --configfile=presets/demo.yaml")
    # the same config as the last build, or none recorded: build first
    same = report_check(targets, ["--configfile=presets/demo.yaml"], ["--configfile=presets/demo.yaml"], "r.html")
    assert same.endswith("build them first (snakemake --cores all --configfile=presets/demo.yaml), "
                         "or add the --configfile that built results/")
    # the last build used config.yaml alone
    assert "last built with no --configfile (config.yaml): run snakemake --report r.html" in report_check(
        targets, ["--configfile=presets/demo.yaml"], [], "r.html")
