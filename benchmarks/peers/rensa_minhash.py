"""Bare rensa baseline: ``RMinHash`` per row and an ``RMinHashLSH`` index of the kept rows, the same
greedy pass as the datasketch baseline (candidates verified by the estimated Jaccard similarity).

``RMinHashLSH`` needs a band count that divides the number of permutations, so the default here is
16 bands of 8 rows for 128 permutations. See ``baseline_common.py`` for shingles and output.
"""

from __future__ import annotations

from baseline_common import char_shingles, first_match, parse_args, read_rows, write_result
from rensa import RMinHash, RMinHashLSH


def main() -> None:
    args = parse_args(__doc__ or "")
    ids, texts = read_rows(args.src)
    bands = args.bands or 16
    lsh = RMinHashLSH(threshold=args.threshold, num_perm=args.num_perm, num_bands=bands)
    kept: dict[int, RMinHash] = {}
    duplicate_of: list[int | None] = []
    for row, text in enumerate(texts):
        minhash = RMinHash(num_perm=args.num_perm, seed=args.seed)
        minhash.update(list(char_shingles(text, args.ngram)))
        match = first_match(lsh.query(minhash), lambda key, m=minhash: m.jaccard(kept[key]), args.threshold)
        duplicate_of.append(match)
        if match is None:
            kept[row] = minhash
            lsh.insert(row, minhash)
    write_result(args.out, ids, duplicate_of)
    print(f"bands={lsh.get_num_bands()} rows_per_band={args.num_perm // bands}")


if __name__ == "__main__":
    main()
