"""Settings models: one per engine, extended by stage params, feeding the command-line options; one
error translation for pipeline keys, stage parameters and options."""

import subprocess
import sys

import pytest
import typer
import yaml

from curate.bias import TokenSettings
from curate.cli import app
from curate.dedup.contamination import ContaminationSettings
from curate.dedup.plan import MinHashSettings
from curate.errors import ConfigError
from curate.labels import LabelIssueSettings
from curate.pipeline import run_pipeline
from curate.retrieval.chunk import ChunkSettings
from curate.retrieval.negatives import MiningSettings
from curate.stages import MinHashDedup
from curate.stages.bias_report import BiasReportParams
from curate.stages.chunk_passages import ChunkPassagesParams
from curate.stages.decontaminate import DecontaminateParams
from curate.stages.label_issues import LabelIssuesParams
from curate.stages.mine_hard_negatives import MineHardNegativesParams
from curate.stages.minhash_dedup import MinHashDedupParams
from tests.conftest import REPO

# command -> (settings model, {option name: field name}) for every option that comes from a model
COMMANDS = {
    "dedup": (MinHashDedupParams, {"field": "fields", **{f: f for f in MinHashDedupParams.model_fields}}),
    "contamination": (ContaminationSettings, {f: f for f in ContaminationSettings.model_fields}),
    "mine-negatives": (MiningSettings, {f: f for f in MiningSettings.model_fields}),
    "chunk-passages": (ChunkSettings, {f: f for f in ChunkSettings.model_fields}),
    "bias": (BiasReportParams, {f: f for f in ("field", "tokenizer", "min_count")}),
    "label-issues": (
        LabelIssuesParams,
        {"pred_probs": "pred_probs_column", **{f: f for f in ("model", "folds", "seed")}},
    ),
}


def test_stage_params_extend_the_engine_settings():
    assert issubclass(MinHashDedupParams, MinHashSettings)
    assert issubclass(ContaminationSettings, MinHashSettings) and issubclass(DecontaminateParams, ContaminationSettings)
    assert issubclass(MineHardNegativesParams, MiningSettings)
    assert issubclass(ChunkPassagesParams, ChunkSettings)
    assert issubclass(LabelIssuesParams, LabelIssueSettings)
    assert issubclass(BiasReportParams, TokenSettings)
    # the stage's params are the engine's settings: no copy in between
    stage = MinHashDedup(num_perm=64, bands=8, rows=8)
    assert isinstance(stage.params, MinHashSettings) and stage.params.lsh().bands == 8


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_options_take_default_and_help_from_the_model(command):
    model, names = COMMANDS[command]
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    checked = 0
    for param in click_command.params:
        field_name = names.get(param.name)
        if field_name is None or field_name not in model.model_fields:
            continue
        field = model.model_fields[field_name]
        default = field.get_default(call_default_factory=True)
        assert param.default == default or (param.default is None and default is None), (command, param.name)
        words = " ".join((field.description or "").replace("``", "").split())
        assert param.help.startswith(words), (command, param.name)
        checked += 1
    assert checked >= 3, f"{command}: the options do not come from {model.__name__}"


def test_contamination_always_verifies_and_checks_bands_like_dedup():
    with pytest.raises(ValueError, match="verify"):
        ContaminationSettings(verify=False)
    with pytest.raises(ValueError, match=r"bands x rows \(20 x 10\) exceeds num_perm \(128\)"):
        ContaminationSettings(bands=20, rows=10)
    assert ContaminationSettings(bands=16, rows=8).lsh().bands == 16


def pipeline(tmp_path, params):
    path = tmp_path / "p.yaml"
    spec = {
        "name": "p",
        "input": {"path": "x.json"},
        "stages": [{"use": "minhash_dedup", "id": "near", "params": params}],
    }
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"num_perm": 1},
            r"^bad value for parameter 'num_perm' for stage 'minhash_dedup' \(Input should be greater than or "
            r"equal to 2\) at stage 'near', .*p\.yaml: got 1 \(hint: num_perm: MinHash permutations",
        ),
        (
            {"bands": 20, "rows": 10},
            r"^bad combination of parameters for stage 'minhash_dedup' \(bands x rows \(20 x 10\) exceeds "
            r"num_perm \(128\)\) at stage 'near', .*p\.yaml$",
        ),
        ({"bands": 4}, r"^bad combination of parameters .*\(give both bands and rows, or neither\)"),
        ({"num_perms": 64}, r"^unknown parameter 'num_perms' .*: got 64 \(hint: did you mean 'num_perm'\? allowed: "),
    ],
)
def test_bad_settings_in_a_pipeline_are_one_line(tmp_path, params, message):
    with pytest.raises(ConfigError, match=message) as info:
        run_pipeline(pipeline(tmp_path, params), output=tmp_path / "run")
    assert "\n" not in str(info.value) and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["--num-perm", "1"], "error: bad value for option '--num-perm' (Input should be greater than or equal to 2)"),
        (["--bands", "20", "--rows", "10"], "error: bad combination of options (bands x rows (20 x 10) exceeds"),
        (["--clustering", "chains"], "error: bad value for option '--clustering' (Input should be 'greedy' or"),
    ],
)
def test_bad_dedup_options_are_one_line_naming_the_option(tmp_path, args, start):
    src = REPO / "sample_data" / "korquad_sample.json"
    done = subprocess.run(
        [sys.executable, "-m", "curate", "dedup", str(src), str(tmp_path / "out.parquet"), *args],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.startswith(start), done.stderr
    assert done.stderr.strip().count("\n") == 0 and not (tmp_path / "out.parquet").exists()
