"""Pipeline files are validated before any work: every problem named with its line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopml.pipeline import PipelineConfigError, load_pipeline, parse_pipeline

VALID = """\
name: shop
workspace: ws.duckdb
data:
  simulate: {users: 200, items: 40, days: 60}
train:
  recommend:
    models: [itemknn, {name: ease, params: {l2: 50}}]
  clv: {holdout_days: 30}
"""


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PipelineConfigError) as info:
        parse_pipeline(text, "p.yaml")
    return info.value.problems


def test_valid_file_parses_with_defaults():
    cfg = parse_pipeline(VALID)
    steps = cfg.step_configs()
    assert list(steps) == ["recommend", "clv"]
    assert [m.name for m in steps["recommend"].models] == ["itemknn", "ease"]
    assert steps["recommend"].models[1].params == {"l2": 50}
    assert [b.name for b in steps["recommend"].baselines] == ["popularity"]
    assert steps["clv"].holdout_days == 30
    assert cfg.register_policy == "best" and cfg.evaluate.bootstrap == 1000
    assert cfg.data.kind == "simulate" and cfg.data.simulate.users == 200


def test_unknown_key_is_named_with_its_line():
    text = VALID.replace("  clv: {holdout_days: 30}", "  clv: {holdout_days: 30, holdout_dayz: 3}")
    assert problems(text) == [(8, "train.clv.holdout_dayz", "unknown key")]


def test_bad_value_and_unknown_top_level_key_reported_together():
    text = VALID.replace("days: 60}", "days: 60}\n  colour: blue").replace("holdout_days: 30", "holdout_days: soon")
    found = problems(text)
    assert [(line, key) for line, key, _ in found] == [(5, "data.colour"), (9, "train.clv.holdout_days")]
    assert "integer" in found[1][2]


def test_unknown_recommender_parameter_names_what_it_accepts():
    text = VALID.replace("{l2: 50}", "{l2: 50, lambda: 3}")
    ((line, key, msg),) = problems(text)
    assert (line, key) == (7, "train.recommend.models[1]")
    assert "lambda" in msg and "l2" in msg


def test_unknown_recommender_and_unknown_step():
    text = VALID.replace("itemknn,", "itemnn,") + "  teleport: {}\n"
    found = {key: (line, msg) for line, key, msg in problems(text)}
    assert found["train.recommend.models[0]"][0] == 7 and "itemnn" in found["train.recommend.models[0]"][1]
    assert found["train.teleport"][0] == 9 and "unknown step" in found["train.teleport"][1]


def test_data_needs_exactly_one_source():
    text = VALID.replace("  simulate: {users: 200, items: 40, days: 60}", "  dataset: online-retail\n  simulate: {users: 200}")
    ((line, key, msg),) = problems(text)
    assert (line, key) == (3, "data") and "exactly one" in msg


def test_unknown_dataset_and_unknown_table_column():
    text = VALID.replace(
        "  simulate: {users: 200, items: 40, days: 60}",
        "  sources:\n    - file: x.csv\n      table: events\n      map: {user: u, ts: t}",
    )
    found = problems(text)
    assert [(line, key) for line, key, _ in found] == [(5, "data.sources[0]")]
    assert "['user']" in found[0][2]
    text = VALID.replace("  simulate: {users: 200, items: 40, days: 60}", "  dataset: no-such-shop")
    ((line, key, msg),) = problems(text)
    assert (line, key) == (4, "data.dataset") and "no-such-shop" in msg


def test_missing_required_keys_point_at_the_parent():
    found = problems("name: shop\ndata:\n  simulate: {}\n")
    assert {(k, m) for _, k, m in found} == {("workspace", "required key is missing"), ("train", "required key is missing")}


def test_simulator_knobs_are_checked_by_the_simulator():
    text = VALID.replace("days: 60}", "days: 60, options: {search_share: 3.0}}")
    ((line, key, msg),) = problems(text)
    assert (line, key) == (4, "data.simulate") and "search_share" in msg


def test_yaml_syntax_error_has_a_line():
    ((line, key, msg),) = problems(VALID.replace("  clv: {holdout_days: 30}", "  clv: {holdout_days: 30"))
    assert line is not None and line >= 8 and "YAML" in msg


def test_message_lists_file_line_and_key(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace("name: shop", "name: 'shop floor'"))
    with pytest.raises(PipelineConfigError) as info:
        load_pipeline(path)
    assert f"{path}:1: name:" in str(info.value)


REPO = Path(__file__).parents[2]


@pytest.mark.parametrize("example", sorted(REPO.joinpath("examples", "pipelines").glob("*.yaml")))
def test_example_pipelines_are_valid(example: Path, monkeypatch):
    monkeypatch.chdir(REPO)  # their paths are relative to the repository root
    if "sources:" in example.read_text() and not (REPO.parent / "shared" / "data" / "diginetica_sample").is_dir():
        pytest.skip("the example's files are in ../shared/data, which is absent")
    assert load_pipeline(example).step_configs()


def test_demo_pipeline_is_valid():
    from importlib import resources

    text = resources.files("shopml.pipeline").joinpath("demo.yaml").read_text()
    assert set(parse_pipeline(text).step_configs()) == {"recommend", "clv", "churn", "search"}


def test_missing_data_file_is_found_before_any_work(tmp_path):
    text = VALID.replace(
        "  simulate: {users: 200, items: 40, days: 60}",
        f"  sources:\n    - file: {tmp_path}/nope.csv\n      table: events\n      map: {{user_id: u, ts: t}}",
    )
    ((line, key, msg),) = problems(text)
    assert (line, key) == (5, "data.sources[0]") and f"no file {tmp_path}/nope.csv" in msg
