"""Plain datasketch baseline: one ``MinHash`` per row, one ``MinHashLSH`` index of the kept rows.

Rows are visited in input order; a row is a duplicate when an LSH candidate among the kept rows has
an estimated Jaccard similarity (from the signatures) at or above the threshold, else it is kept and
indexed. See ``baseline_common.py`` for shingles and the output format.
"""

from __future__ import annotations

from baseline_common import char_shingles, first_match, parse_args, read_rows, write_result
from datasketch import LeanMinHash, MinHash, MinHashLSH


def main() -> None:
    args = parse_args(__doc__ or "")
    ids, texts = read_rows(args.src)
    params = None if not args.bands else (args.bands, args.num_perm // args.bands)
    lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm, params=params)
    template = MinHash(num_perm=args.num_perm, seed=args.seed)  # default scheme (affine32)
    permutations, scheme = template.permutations, template.scheme
    kept: dict[int, LeanMinHash] = {}
    duplicate_of: list[int | None] = []
    for row, text in enumerate(texts):
        minhash = MinHash(num_perm=args.num_perm, seed=args.seed, permutations=permutations, scheme=scheme)
        minhash.update_batch([s.encode("utf-8") for s in char_shingles(text, args.ngram)])
        match = first_match(lsh.query(minhash), lambda key, m=minhash: m.jaccard(kept[key]), args.threshold)
        duplicate_of.append(match)
        if match is None:
            lean = LeanMinHash(minhash)
            kept[row] = lean
            lsh.insert(row, lean, check_duplication=False)
    write_result(args.out, ids, duplicate_of)
    print(f"bands={lsh.b} rows_per_band={lsh.r}")


if __name__ == "__main__":
    main()
