"""rensa's R-MinHash digests computed straight into a numpy matrix (numba), for many texts at once.

rensa (0.5) computes digests in Rust but hands them to Python only as a list of ints per text;
turning those lists into an array costs about ten times the digests themselves. :func:`digests`
computes the same values, bit for bit, from the same flat shingle hashes into a ``uint32`` matrix.

The sketch, per coordinate ``k`` of ``m`` (``(a_k, b_k)`` the permutations rensa draws from its
seed: xoshiro256++ seeded by splitmix64, ``a_k`` made odd):

- three bucket rounds ``r``: each token hash ``h`` is mixed (splitmix64 of ``h`` xor ``b_0`` and
  the round's constants) into one bucket (Lemire's multiply-shift, rejecting the incomplete last
  interval) and a rank ``r << 30 | mixed >> 34``; a coordinate keeps its smallest rank;
- coordinates no round reached fall back to ``3 << 30 | (a_k * g + b_k) >> 34`` (mod 2**64), the
  smallest over the tokens, ``g`` being the token mixed with ``a_0``'s fallback constant;
- a text without tokens keeps ``2**32 - 1`` everywhere.

:func:`agrees_with_rensa` checks the two on a probe before :func:`~curate.dedup.minhash.signatures`
relies on it; if a rensa release changed the sketch, signatures come from rensa's lists again.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit, uint32, uint64

_MASK = (1 << 64) - 1
_BUCKET_DOMAIN = 0x6A09E667F3BCC909
_ROUND_DOMAIN = 0x3C6EF372FE94F82B
_FALLBACK_DOMAIN = 0xBB67AE8584CAA73B
_ROUNDS = 3
_FALLBACK = 3 << 30
_EMPTY = 0xFFFFFFFF


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _MASK


@njit(uint64(uint64), cache=True, nogil=True)
def _mix(value):  # type: ignore[no-untyped-def]
    value = value + uint64(0x9E3779B97F4A7C15)
    value = (value ^ (value >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    value = (value ^ (value >> uint64(27))) * uint64(0x94D049BB133111EB)
    return value ^ (value >> uint64(31))


@cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """rensa's ``(a, b)`` pairs for ``num_perm`` and ``seed``: two ``uint64`` arrays."""
    s = [int(_mix(np.uint64((seed + i * 0x9E3779B97F4A7C15) & _MASK))) for i in range(4)]  # xoshiro256++'s state
    drawn = []
    for _ in range(2 * num_perm):
        drawn.append((_rotl((s[0] + s[3]) & _MASK, 23) + s[0]) & _MASK)
        t = (s[1] << 17) & _MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
    a = np.array([value | 1 for value in drawn[0::2]], np.uint64)
    return a, np.array(drawn[1::2], np.uint64)


@njit(cache=True, nogil=True)
def _sketch(hashes, offsets, a, b, out):  # type: ignore[no-untyped-def]
    m = a.shape[0]
    count = uint64(m)
    threshold = (uint64(1) << uint64(32)) % count
    low = uint64(0xFFFFFFFF)
    rank_shift = uint64(34)
    round_seeds = np.empty(_ROUNDS, np.uint64)
    for r in range(_ROUNDS):
        round_seeds[r] = b[0] ^ uint64(_BUCKET_DOMAIN) ^ (uint64(r) * uint64(_ROUND_DOMAIN))
    fallback_seed = a[0] ^ uint64(_FALLBACK_DOMAIN)
    for row in range(offsets.shape[0] - 1):
        values = out[row]
        for k in range(m):
            values[k] = uint32(_EMPTY)
        start, stop = offsets[row], offsets[row + 1]
        for j in range(start, stop):
            h = hashes[j]
            for r in range(_ROUNDS):
                mixed = _mix(h ^ round_seeds[r])
                candidate = mixed
                while True:
                    product = (candidate & low) * count
                    if (product & low) >= threshold:
                        break
                    candidate = _mix(candidate)
                bucket = product >> uint64(32)
                rank = uint32((uint64(r) << uint64(30)) | (mixed >> rank_shift))
                if rank < values[bucket]:
                    values[bucket] = rank
        missing = False
        for k in range(m):
            if values[k] >= uint32(_FALLBACK):
                missing = True
                break
        if not missing:
            continue
        for j in range(start, stop):
            g = _mix(hashes[j] ^ fallback_seed)
            for k in range(m):
                if values[k] >= uint32(_FALLBACK):
                    rank = uint32(uint64(_FALLBACK) | ((a[k] * g + b[k]) >> rank_shift))
                    if rank < values[k]:
                        values[k] = rank


def digests(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """The R-MinHash digests of the texts whose token hashes are ``hashes[offsets[i]:offsets[i + 1]]``
    (``uint64``), as rensa computes them: ``uint32`` of shape ``(texts, num_perm)``."""
    a, b = permutations(num_perm, seed)
    out = np.empty((len(offsets) - 1, num_perm), np.uint32)
    _sketch(np.ascontiguousarray(hashes, np.uint64), np.ascontiguousarray(offsets, np.int64), a, b, out)
    return out


@cache
def agrees_with_rensa() -> bool:
    """Whether :func:`digests` gives rensa's values on a probe (texts of 0 to 300 random token
    hashes, 24 and 128 permutations)."""
    from rensa import RMinHash

    rng = np.random.default_rng(7)
    sizes = np.array([0, 1, 2, 5, 8, 20, 31, 32, 33, 90, 300])
    hashes = rng.integers(0, 2**64 - 1, int(sizes.sum()), dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.uint64)
    for num_perm, seed in ((24, 3), (128, 42)):
        theirs = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, seed).to_rows()
        if not np.array_equal(np.array(theirs, np.uint32), digests(hashes, offsets, num_perm, seed)):
            return False
    return True
