"""The relabeling round trip against a real Label Studio server.

`curate export label-studio --push` creates the project and imports the tasks, an annotator works
through Label Studio's API (label-studio-sdk), and `curate import label-studio --pull` merges the
annotations back. The server is installed by `make label-studio` and started here on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import without_progress
from tests.integration.label_studio_server import NOT_INSTALLED, Server, executable, get, label_studio

pytestmark = pytest.mark.label_studio

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_data"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    command = executable()
    if command is None:
        pytest.skip(NOT_INSTALLED)
    with label_studio(command, tmp_path_factory.mktemp("label-studio")) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Any:
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=server.url, api_key=server.token)


def curate(server: Server, *args: Any, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABEL_STUDIO_API_KEY": token or server.token}
    return subprocess.run(
        [sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True, env=env, check=False
    )


def pushed_project(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0, done.stderr
    found = re.search(r"(?:created|updated) project (\d+)", done.stdout)
    assert found, done.stdout
    return int(found.group(1))


def tasks_by_row(client: Any, project: int) -> dict[str, Any]:
    return {t.data["curate_id"]: t for t in client.tasks.list(project=project, fields="all", page_size=1000)}


def choice(value: str, control: str, target: str) -> list[dict[str, Any]]:
    return [{"from_name": control, "to_name": target, "type": "choices", "value": {"choices": [value]}}]


def span(context: str, start: int, end: int) -> list[dict[str, Any]]:
    value = {"start": start, "end": end, "text": context[start:end], "labels": ["Answer"]}
    return [{"from_name": "answer", "to_name": "context", "type": "labels", "value": value}]


def same_except(before: pa.Table, after: pa.Table, column: str, changed: dict[int, Any]) -> None:
    """``after`` holds ``before``'s rows in order, equal in every original column but ``changed`` cells."""
    assert after.num_rows == before.num_rows
    values = before.column(column).to_pylist()
    for row, value in changed.items():
        values[row] = value
    field = before.schema.field(column)
    expected = before.set_column(before.column_names.index(column), field, pa.array(values, field.type))
    assert after.select(before.column_names).equals(expected)


def test_classification_round_trip(server: Server, client: Any, tmp_path: Path) -> None:
    issues = tmp_path / "issues.parquet"
    found = curate(server, "label-issues", SAMPLES / "reviews_cls.tsv", "--out", issues)
    assert found.returncode == 0, found.stderr
    before = pq.read_table(issues)
    flagged = [r for r in before.to_pylist() if r["label_issue"]]
    assert len(flagged) >= 4

    def push_flagged(out: str) -> subprocess.CompletedProcess[str]:
        args = ("--select", "label_issue", "--push", server.url, "--title", "review labels")
        return curate(server, "export", "label-studio", issues, tmp_path / out, *args)

    project = pushed_project(push_flagged("ls"))
    tasks = tasks_by_row(client, project)
    assert set(tasks) == {r["id"] for r in flagged}

    # the current label and the model's suggestion arrive as separate predictions with scores
    first = tasks[flagged[0]["id"]]
    predictions = {p.model_version: p for p in first.predictions}
    assert set(predictions) == {"current", "suggested"}
    assert predictions["current"].result[0]["value"]["choices"] == [flagged[0]["label"]]
    assert predictions["suggested"].result[0]["value"]["choices"] == [flagged[0]["suggested_label"]]
    assert 0.0 < predictions["suggested"].score <= 1.0

    # pushing the same selection again adds nothing
    again = push_flagged("ls2")
    assert pushed_project(again) == project and "0 tasks imported" in again.stdout
    assert len(tasks_by_row(client, project)) == len(flagged)

    fixed, kept, disputed, skipped = (r["id"] for r in flagged[:4])
    client.annotations.create(id=tasks[fixed].id, result=choice(flagged[0]["suggested_label"], "label", "text"))
    client.annotations.create(id=tasks[kept].id, result=choice(flagged[1]["label"], "label", "text"))
    client.annotations.create(id=tasks[disputed].id, result=choice("positive", "label", "text"))
    client.annotations.create(id=tasks[disputed].id, result=choice("negative", "label", "text"))
    client.annotations.create(id=tasks[skipped].id, result=[], was_cancelled=True)

    out, report = tmp_path / "fixed.parquet", tmp_path / "report.parquet"
    merged = curate(
        server,
        "import",
        "label-studio",
        issues,
        "--pull",
        server.url,
        project,
        "--out",
        out,
        "--report",
        report,
        "--save-export",
        tmp_path / "pulled.json",
    )
    assert merged.returncode == 0, merged.stderr
    after = pq.read_table(out)
    row = {r["id"]: i for i, r in enumerate(before.to_pylist())}
    same_except(before, after, "label", {row[fixed]: flagged[0]["suggested_label"]})
    rows = after.to_pylist()
    assert rows[row[fixed]]["previous_label"] == flagged[0]["label"]
    assert rows[row[fixed]]["annotated_by"] == server.email and rows[row[fixed]]["annotated_at"]
    assert rows[row[kept]]["annotated_by"] == server.email  # confirmed: same label, provenance recorded
    touched = {r["id"] for r in rows if r["annotated_by"] is not None}
    assert touched == {fixed, kept}

    statuses = {r["curate_id"]: r["status"] for r in pq.read_table(report).to_pylist()}
    assert statuses[fixed] == "updated" and statuses[kept] == "confirmed"
    assert statuses[disputed] == "conflict" and statuses[skipped] == "cancelled"
    assert {s for k, s in statuses.items() if k not in (fixed, kept, disputed, skipped)} == {"unannotated"}
    assert len(json.loads((tmp_path / "pulled.json").read_text(encoding="utf-8"))) == len(flagged)

    # a second round into the same project by id: only the rows not there yet are sent
    rest = curate(
        server, "export", "label-studio", issues, tmp_path / "all", "--push", server.url, "--project", project
    )
    assert pushed_project(rest) == project
    assert f"{before.num_rows - len(flagged):,} tasks imported, {len(flagged):,} already there" in rest.stdout
    assert len(tasks_by_row(client, project)) == before.num_rows


def test_mrc_span_round_trip(server: Server, client: Any, tmp_path: Path) -> None:
    src = tmp_path / "korquad.parquet"
    converted = curate(server, "convert", SAMPLES / "korquad_sample.json", src)
    assert converted.returncode == 0, converted.stderr
    table = pq.read_table(src)
    # a reader's predictions: the first word of each context, with a confidence
    reader = [c.split()[0] for c in table.column("context").to_pylist()]
    table = table.append_column("reader", pa.array(reader)).append_column("reader_p", pa.array([0.75] * len(reader)))
    pq.write_table(table, src)
    before = pq.read_table(src)
    chosen = [r for r in before.to_pylist() if r["answers"] and not r["is_impossible"]][:3]
    ids = ", ".join(f"'{r['id']}'" for r in chosen)
    project = pushed_project(
        curate(
            server,
            "export",
            "label-studio",
            src,
            tmp_path / "ls",
            "--select",
            f"id IN ({ids})",
            "--push",
            server.url,
            "--title",
            "korquad spans",
            "--suggestion",
            "reader",
            "--suggestion-score",
            "reader_p",
        )
    )
    tasks = tasks_by_row(client, project)
    suggested = {p.model_version: p for p in tasks[chosen[0]["id"]].predictions}["suggested"]
    assert suggested.score == 0.75 and suggested.result[0]["value"]["text"] == chosen[0]["context"].split()[0]
    assert set(tasks) == {r["id"] for r in chosen}
    current = tasks[chosen[0]["id"]].predictions[0].result
    answer = chosen[0]["answers"][0]
    assert current[0]["value"]["start"] == answer["answer_start"] and current[0]["value"]["text"] == answer["text"]

    # the annotator widens the first answer by one character on each side and keeps the second
    context = chosen[0]["context"]
    start = max(answer["answer_start"] - 1, 0)
    end = min(answer["answer_start"] + len(answer["text"]) + 1, len(context))
    client.annotations.create(id=tasks[chosen[0]["id"]].id, result=span(context, start, end))
    second = chosen[1]["answers"][0]
    client.annotations.create(
        id=tasks[chosen[1]["id"]].id,
        result=span(chosen[1]["context"], second["answer_start"], second["answer_start"] + len(second["text"])),
    )

    out = tmp_path / "fixed.parquet"
    merged = curate(server, "import", "label-studio", src, "--pull", server.url, project, "--out", out)
    assert merged.returncode == 0, merged.stderr
    assert "updated 1" in merged.stdout and "unannotated 1" in merged.stdout
    after = pq.read_table(out)
    row = next(i for i, r in enumerate(before.to_pylist()) if r["id"] == chosen[0]["id"])
    new = [{"text": context[start:end], "answer_start": start}]
    same_except(before, after, "answers", {row: new})
    assert after.to_pylist()[row]["previous_answers"] == chosen[0]["answers"]


def test_qrels_relevance_round_trip(server: Server, client: Any, tmp_path: Path) -> None:
    folder = SAMPLES / "retrieval"
    project = pushed_project(
        curate(
            server,
            "export",
            "label-studio",
            folder,
            tmp_path / "ls",
            "--select",
            "query_id IN ('q001', 'q002')",
            "--push",
            server.url,
            "--title",
            "relevance",
        )
    )
    tasks = tasks_by_row(client, project)
    judged = sorted(tasks)[0]
    assert tasks[judged].data["query_text"] and tasks[judged].data["passage_text"]
    client.annotations.create(id=tasks[judged].id, result=choice("0", "relevance", "passage"))

    out = tmp_path / "qrels.parquet"
    merged = curate(server, "import", "label-studio", folder, "--pull", server.url, project, "--out", out)
    assert merged.returncode == 0, merged.stderr
    rows = pq.read_table(out).to_pylist()
    changed = [r for r in rows if r["annotated_by"] is not None]
    assert [(f"{r['split']}::{r['query_id']}::{r['doc_id']}", r["score"], r["previous_score"]) for r in changed] == [
        (judged, 0, 1)
    ]


def test_bad_token_and_unknown_project_end_in_one_line(server: Server, tmp_path: Path) -> None:
    src = SAMPLES / "reviews_cls.tsv"
    refused = curate(server, "export", "label-studio", src, tmp_path / "ls", "--push", server.url, token="0" * 40)
    assert refused.returncode == 2
    assert without_progress(refused.stderr).strip().count("\n") == 0 and "refused the token" in refused.stderr
    assert not (tmp_path / "ls").exists()
    missing = curate(server, "import", "label-studio", src, "--pull", server.url, 9999, "--out", tmp_path / "x.parquet")
    assert missing.returncode == 2 and "no such Label Studio project" in missing.stderr and "9999" in missing.stderr
    assert not (tmp_path / "x.parquet").exists()
    down = curate(
        server, "import", "label-studio", src, "--pull", "http://127.0.0.1:9", 1, "--out", tmp_path / "x.parquet"
    )
    assert down.returncode == 2 and "cannot reach Label Studio" in down.stderr


def test_the_server_runs_with_its_outside_services_off(server: Server) -> None:
    """The login page carries the settings it was started with: analytics off (no tag manager)."""
    page = get(f"{server.url}/user/login/").decode("utf-8")
    assert "window.APP_SETTINGS.collect_analytics = false;" in page
    assert "googletagmanager" not in page and "sentry" not in page.lower()
