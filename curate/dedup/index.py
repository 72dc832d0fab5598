"""A saved near-duplicate index, so new data can be deduplicated against old data without
re-hashing it.

An index folder holds ``index.json`` (the settings it was built with and its row count) and
``signatures.parquet`` (``id: string``, ``signature: list<uint32>``, one row per indexed text).
New texts are matched by LSH band keys and confirmed by the estimated Jaccard similarity of the
signatures (the old texts themselves are not needed).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.minhash import LshConfig, band_keys, signatures
from curate.dedup.plan import MinHashSettings, shingles_of
from curate.errors import ConfigError, InputError, Where

_COMPARED = ("shingle", "ngram", "lowercase", "num_perm", "bands", "rows", "seed")


@dataclass(frozen=True)
class Index:
    ids: list[str]
    signature: np.ndarray  # uint32 (n, num_perm)
    config: LshConfig


@dataclass(frozen=True)
class IndexMatch:
    """New rows (indices) that match an indexed text, the matched ids and estimated similarity."""

    rows: np.ndarray
    ids: list[str]
    similarity: np.ndarray


def _settings_record(settings: MinHashSettings, config: LshConfig) -> dict:
    record = asdict(settings)
    record.update(bands=config.bands, rows=config.rows, num_perm=config.num_perm)
    return record


def save_index(
    folder: Path,
    texts: list[str | None],
    ids: list[str],
    settings: MinHashSettings,
    *,
    previous: Path | None = None,
) -> None:
    """Write the index of ``texts`` (with ``ids``), appended to the ``previous`` index if given."""
    config = settings.lsh()
    signature = signatures(shingles_of(texts, settings), config)
    if previous is not None:
        old = load_index(previous, settings)
        ids = old.ids + list(ids)
        signature = np.concatenate([old.signature, signature])
    tmp = folder.with_name(f".{folder.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    flat = pa.array(signature.reshape(-1), pa.uint32())
    offsets = pa.array(np.arange(0, signature.size + 1, config.num_perm, dtype=np.int32), pa.int32())
    table = pa.table({"id": pa.array(ids, pa.string()), "signature": pa.ListArray.from_arrays(offsets, flat)})
    pq.write_table(table, tmp / "signatures.parquet", compression="zstd")
    meta = {"format": "curate-minhash-index/1", "rows": len(ids), "settings": _settings_record(settings, config)}
    (tmp / "index.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)


def load_index(folder: Path, settings: MinHashSettings, *, stage: str | None = None) -> Index:
    """Read an index; its settings must match ``settings`` (else the signatures are not comparable).

    Raises:
        InputError: the folder is not a readable index (no or malformed ``index.json``, missing or
            corrupt ``signatures.parquet``).
        ConfigError: the index was built with other settings.
    """
    meta_file = folder / "index.json"
    if not meta_file.is_file():
        raise InputError("not a dedup index (no index.json)", where=Where(file=str(folder), stage=stage))
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("settings"), dict):
        raise InputError(
            "corrupt dedup index: index.json is not an index record",
            where=Where(file=str(meta_file), stage=stage),
            hint="build the index again (--save-index)",
        )
    config = settings.lsh()
    wanted = _settings_record(settings, config)
    for key in _COMPARED:
        if meta["settings"].get(key) != wanted[key]:
            raise ConfigError(
                f"index was built with another '{key}'",
                where=Where(file=str(folder), stage=stage, field=key),
                value=wanted[key],
                hint=f"the index has {key}={meta['settings'].get(key)!r}; use the same settings",
            )
    signatures_file = folder / "signatures.parquet"
    try:
        table = pq.read_table(signatures_file)
        flat = np.asarray(table.column("signature").combine_chunks().flatten(), np.uint32)
        ids = table.column("id").to_pylist()
        signature = flat.reshape(-1, config.num_perm)
    except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
        raise InputError(
            "corrupt dedup index: cannot read its signatures",
            where=Where(file=str(signatures_file), stage=stage),
            value=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            hint="build the index again (--save-index)",
        ) from None
    if len(ids) != len(signature):
        raise InputError(
            "corrupt dedup index: ids and signatures differ in number",
            where=Where(file=str(signatures_file), stage=stage),
            hint="build the index again (--save-index)",
        )
    return Index(ids, signature, config)


def match_index(index: Index, texts: list[str | None], settings: MinHashSettings) -> IndexMatch:
    """New texts similar (estimated Jaccard >= threshold) to an indexed one; the best match each."""
    config = index.config
    new_signature = signatures(shingles_of(texts, settings), config)
    old_keys, new_keys = band_keys(index.signature, config), band_keys(new_signature, config)
    best = np.full(len(texts), -1, np.int64)
    best_similarity = np.zeros(len(texts))
    for b in range(config.bands):
        order = np.argsort(old_keys[:, b], kind="stable")
        sorted_keys = old_keys[order, b]
        position = np.searchsorted(sorted_keys, new_keys[:, b])
        hit = np.nonzero(
            (position < len(sorted_keys)) & (sorted_keys[np.minimum(position, len(sorted_keys) - 1)] == new_keys[:, b])
        )[0]
        if not len(hit):
            continue
        old = order[position[hit]]
        similarity = (new_signature[hit] == index.signature[old]).mean(axis=1)
        better = similarity > best_similarity[hit]
        best[hit[better]] = old[better]
        best_similarity[hit[better]] = similarity[better]
    rows = np.nonzero((best >= 0) & (best_similarity >= config.threshold))[0]
    return IndexMatch(rows, [index.ids[i] for i in best[rows].tolist()], best_similarity[rows])
