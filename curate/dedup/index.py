"""A saved near-duplicate index, so new data can be deduplicated against old data without
re-hashing it.

An index folder holds ``index.json`` (``format``, the settings it was built with and its row count)
and ``signatures.parquet`` (``id: string``, ``signature: list<uint32>`` of ``num_perm`` values, and
``answer: string``, the row's :class:`~curate.dedup.agreement.Answer` as JSON or null; one row per
indexed text). New texts are matched by LSH band keys and confirmed by the estimated Jaccard
similarity of the signatures (the old texts themselves are not needed); a match whose answer
differs is a conflict, as within one dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.agreement import Answer, answers_agree
from curate.dedup.minhash import LshConfig, band_keys, signatures
from curate.dedup.plan import MinHashSettings, shingles_of
from curate.errors import ConfigError, InputError, OutputError, Where
from curate.files import atomic_dir

FORMAT = "curate-minhash-index/1"
_COMPARED = ("shingle", "ngram", "lowercase", "num_perm", "bands", "rows", "seed")
_REBUILD = "rebuild it with --save-index (minhash_dedup's save_index)"


@dataclass(frozen=True)
class Index:
    ids: list[str]
    signature: np.ndarray  # uint32 (n, num_perm)
    config: LshConfig
    answers: list[Answer | None]


@dataclass(frozen=True)
class IndexMatch:
    """New rows (indices) that match an indexed text: the indexed row's id, the estimated
    similarity, and ``conflict`` where no match agrees in its answer (then the closest is named)."""

    rows: np.ndarray
    ids: list[str]
    similarity: np.ndarray
    conflict: np.ndarray


def _settings_record(settings: MinHashSettings, config: LshConfig) -> dict:
    record = settings.model_dump(include=set(MinHashSettings.model_fields))  # a stage's params hold more
    record.update(bands=config.bands, rows=config.rows, num_perm=config.num_perm)
    return record


def _is_index(folder: Path) -> bool:
    try:
        return json.loads((folder / "index.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def save_index(
    folder: Path,
    texts: list[str | None],
    ids: list[str],
    settings: MinHashSettings,
    *,
    answers: list[Answer | None] | None = None,
    previous: Path | None = None,
    stage: str | None = None,
) -> None:
    """Write the index of ``texts`` (with ``ids`` and ``answers``), appended to the ``previous``
    index if given. An existing index at ``folder`` is replaced; anything else there is an error."""
    check_save_target(folder, stage=stage)
    config = settings.lsh()
    signature = signatures(shingles_of(texts, settings), config)
    answers = answers if answers is not None else [None] * len(ids)
    if previous is not None:
        old = load_index(previous, settings, stage=stage)
        ids, answers = old.ids + list(ids), old.answers + list(answers)
        signature = np.concatenate([old.signature, signature])
    flat = pa.array(signature.reshape(-1), pa.uint32())
    offsets = pa.array(np.arange(0, signature.size + 1, config.num_perm, dtype=np.int32), pa.int32())
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "signature": pa.ListArray.from_arrays(offsets, flat),
            "answer": pa.array([None if a is None else a.to_json() for a in answers], pa.string()),
        }
    )
    meta = {"format": FORMAT, "rows": len(ids), "settings": _settings_record(settings, config)}
    try:
        with atomic_dir(folder) as tmp:
            pq.write_table(table, tmp / "signatures.parquet", compression="zstd")
            (tmp / "index.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    except OutputError as failed:
        exc = failed.__cause__ if isinstance(failed.__cause__, OSError) else failed
        raise InputError(
            f"cannot write the dedup index ({getattr(exc, 'strerror', None) or exc})",
            where=Where(file=str(folder.resolve()), stage=stage, field="save_index"),
            hint="choose a folder you can write to",
        ) from None


def check_save_target(folder: Path, *, stage: str | None = None) -> None:
    """ConfigError unless ``folder`` is new, an empty folder, or a dedup index (which is replaced)."""
    if folder.exists() and not (folder.is_dir() and not any(folder.iterdir())) and not _is_index(folder):
        raise ConfigError(
            "will not replace a folder or file that is not a dedup index",
            where=Where(file=str(folder.resolve()), stage=stage, field="save_index"),
            hint="choose a new folder for the index",
        )


def _corrupt(path: Path, what: str, stage: str | None) -> InputError:
    return InputError(f"corrupt dedup index: {what}", where=Where(file=str(path.resolve()), stage=stage), hint=_REBUILD)


def _read_meta(folder: Path, stage: str | None) -> dict:
    meta_file = folder / "index.json"
    if not folder.is_dir() or not meta_file.is_file():
        raise InputError(
            "not a dedup index (no index.json)",
            where=Where(file=str(folder.resolve()), stage=stage),
            hint="pass a folder written by --save-index",
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(meta_file, f"index.json is not readable JSON ({exc})", stage) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("settings"), dict):
        raise _corrupt(meta_file, f"index.json is not a {FORMAT} description", stage)
    return meta


def check_index(folder: Path, settings: MinHashSettings, *, stage: str | None = None) -> dict:
    """The description (``index.json``) of the index at ``folder``, checked to be readable and
    built with ``settings`` (else the signatures are not comparable)."""
    meta = _read_meta(folder, stage)
    config = settings.lsh()
    wanted = _settings_record(settings, config)
    for key in _COMPARED:
        if meta["settings"].get(key) != wanted[key]:
            raise ConfigError(
                f"index was built with another '{key}'",
                where=Where(file=str(folder.resolve()), stage=stage, field=key),
                value=wanted[key],
                hint=f"the index has {key}={meta['settings'].get(key)!r}; use the same settings",
            )
    return meta


def load_index(folder: Path, settings: MinHashSettings, *, stage: str | None = None) -> Index:
    """Read an index (see :func:`check_index`). A missing, unreadable or inconsistent index is an
    :class:`InputError` naming the bad file."""
    meta = check_index(folder, settings, stage=stage)
    config = settings.lsh()
    path = folder / "signatures.parquet"
    try:
        table = pq.read_table(path)
        ids = [str(v) for v in table.column("id").to_pylist()]
        flat = np.asarray(table.column("signature").combine_chunks().flatten(), np.uint32)
        signature = flat.reshape(-1, config.num_perm)
        answer_column = table.column("answer").to_pylist() if "answer" in table.column_names else [None] * len(ids)
        answers = [Answer.from_json(a) for a in answer_column]
    except (OSError, pa.ArrowException, KeyError, ValueError, TypeError) as exc:
        raise _corrupt(path, f"signatures.parquet cannot be read ({type(exc).__name__}: {exc})", stage) from None
    if len(signature) != len(ids) or len(ids) != meta.get("rows"):
        raise _corrupt(
            path, f"{len(ids)} ids and {len(signature)} signatures where index.json says {meta.get('rows')}", stage
        )
    return Index(ids, signature, config, answers)


def match_index(
    index: Index, texts: list[str | None], settings: MinHashSettings, answers: list[Answer | None] | None = None
) -> IndexMatch:
    """New texts similar (estimated Jaccard >= threshold) to an indexed one: per new text the most
    similar indexed text whose answer agrees, else (a conflict) the most similar one."""
    config = index.config
    new_signature = signatures(shingles_of(texts, settings), config)
    old_keys, new_keys = band_keys(index.signature, config), band_keys(new_signature, config)
    pairs = []
    for b in range(config.bands):
        order = np.argsort(old_keys[:, b], kind="stable")
        sorted_keys = old_keys[order, b]
        low = np.searchsorted(sorted_keys, new_keys[:, b], side="left")
        count = np.searchsorted(sorted_keys, new_keys[:, b], side="right") - low
        new = np.repeat(np.arange(len(texts)), count)
        within = np.arange(len(new)) - np.repeat(np.cumsum(count) - count, count)
        pairs.append(np.stack([new, order[np.repeat(low, count) + within]], axis=1))
    found = np.unique(np.concatenate(pairs), axis=0) if pairs else np.zeros((0, 2), np.int64)
    similarity = (new_signature[found[:, 0]] == index.signature[found[:, 1]]).mean(axis=1)
    passed = similarity >= config.threshold
    found, similarity = found[passed], similarity[passed]
    order = np.lexsort((found[:, 1], -similarity, found[:, 0]))  # per new row: most similar first
    rows: list[int] = []
    old: list[int] = []
    best: list[float] = []
    conflict: list[bool] = []
    ranked = zip(found[order, 0].tolist(), found[order, 1].tolist(), similarity[order].tolist(), strict=True)
    for row, old_row, value in ranked:
        agree = answers is None or answers_agree(answers[row], index.answers[old_row])
        if rows and rows[-1] == row:
            if conflict[-1] and agree:
                old[-1], best[-1], conflict[-1] = old_row, value, False
            continue
        rows.append(row)
        old.append(old_row)
        best.append(value)
        conflict.append(not agree)
    ids = [index.ids[i] for i in old]
    return IndexMatch(np.asarray(rows, np.int64), ids, np.asarray(best, np.float64), np.asarray(conflict, bool))
