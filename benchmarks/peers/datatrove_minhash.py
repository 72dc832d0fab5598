"""datatrove's four MinHash stages on a folder of JSON Lines shards (``id``, ``text``), run with
``LocalPipelineExecutor``. Runs inside the datatrove virtual environment (benchmarks/.venvs/datatrove).

    python datatrove_minhash.py INPUT_DIR WORK_DIR [--ngram 5 --buckets 9 --hashes-per-bucket 13
                                                    --language kor --workers 2 --seed 1]

One task per shard for signatures and filtering, one task per bucket for the bucket stage, one for
clustering. Writes ``WORK_DIR/kept/*.jsonl`` (rows kept) and ``WORK_DIR/removed/*.jsonl`` (rows
removed), both with ``metadata.minhash_cluster_id`` (-1 for rows in no cluster).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("input_dir", type=Path)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--ngram", type=int, default=5)
    parser.add_argument("--buckets", type=int, default=9)
    parser.add_argument("--hashes-per-bucket", type=int, default=13)
    parser.add_argument("--language", default="kor")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    shards = len(list(args.input_dir.glob("*.jsonl")))
    work = args.work_dir
    config = MinhashConfig(
        n_grams=args.ngram,
        num_buckets=args.buckets,
        hashes_per_bucket=args.hashes_per_bucket,
        seed=args.seed,
        hash_config=HashConfig(precision=64),
    )

    def reader() -> JsonlReader:
        return JsonlReader(str(args.input_dir), glob_pattern="*.jsonl", text_key="text", id_key="id")

    signatures = LocalPipelineExecutor(
        pipeline=[reader(), MinhashDedupSignature(str(work / "signatures"), config=config, language=args.language)],
        tasks=shards,
        workers=args.workers,
        logging_dir=str(work / "logs" / "signatures"),
    )
    buckets = LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"), config=config)],
        tasks=config.num_buckets,
        workers=args.workers,
        logging_dir=str(work / "logs" / "buckets"),
        depends=signatures,
    )
    clusters = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(str(work / "buckets"), str(work / "remove_ids"), config=config, save_cluster_id=True)
        ],
        tasks=1,
        logging_dir=str(work / "logs" / "clusters"),
        depends=buckets,
    )
    dedup_filter = LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupFilter(
                str(work / "remove_ids"),
                exclusion_writer=JsonlWriter(str(work / "removed"), compression=None),
                load_cluster_ids=True,
            ),
            JsonlWriter(str(work / "kept"), compression=None),
        ],
        tasks=shards,
        workers=args.workers,
        logging_dir=str(work / "logs" / "filter"),
        depends=clusters,
    )
    dedup_filter.run()


if __name__ == "__main__":
    main()
