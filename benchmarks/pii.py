"""PII detection per kind on a labelled Korean test set, before (the code of a git ref, default
``main``) and after (this tree), in one run; with ``--nsmc``, also on the 712k NSMC reviews: what
each side finds there and how fast the ``pii`` stage runs.

    .venv/bin/python benchmarks/pii.py [--before main] [--errors] [--nsmc [--rows N] [--show N]]

The test set, ``benchmarks/data/pii_ko.jsonl``, was written for curate: one record per line,
``{"id", "source", "text", "pii": [{"kind", "start", "end", "text"}]}`` with code-point spans;
records without PII are the traps (dates, times, prices, order, invoice and tracking numbers, ISBNs,
product codes, versions, year ranges, student numbers, account-like numbers outside an account).
A found span counts only if kind, start and end all equal a labelled one. Each side runs with every
kind it knows, in its own subprocess (``before``: the ref's ``curate/`` and ``schemas/`` unpacked
with ``git archive``, on this environment). The phone table also runs ``phonenumbers``'
``PhoneNumberMatcher`` alone (region KR) over whole texts at each leniency.

``--nsmc`` needs ``../shared/data/nsmc/reviews.jsonl.gz``. Counts there are per kind (all kinds),
finder speed is :class:`~curate.text.pii.PiiFinder` over the texts in a loop (best of three);
``--show N`` prints N found values per kind with their context, for reading by eye. The stage
timing is :data:`filters.CURATE_RUNNER` (the ``pii`` stage with its defaults, rows read before the
clock starts), the best of three runs per side, alternating. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from io import BytesIO
from pathlib import Path

from filters import CURATE_RUNNER, REVIEWS, reviews_parquet

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data" / "pii_ko.jsonl"
STAGE_RUNS = 3
"""Timed runs per side on NSMC (finder and stage); the best counts."""

FIND_RUNNER = """
import json, sys, time
import pyarrow.parquet as pq
import curate.text.pii as pii
source, repeats = sys.argv[1], int(sys.argv[2])
finder = pii.PiiFinder(pii.PII_KINDS)
if source.endswith(".parquet"):
    texts = [t or "" for t in pq.read_table(source, columns=["text"]).column("text").to_pylist()]
else:
    texts = [json.loads(line)["text"] for line in open(source, encoding="utf-8")]
finder("010-1234-5678, +82 2-123-4567")  # loads phonenumbers' metadata before the clock starts
seconds = float("inf")
for _ in range(repeats):  # the best of a few runs: the machine is shared
    t0 = time.perf_counter()
    found = [finder(text) for text in texts]
    seconds = min(seconds, time.perf_counter() - t0)
spans = [[(i, s.kind, s.start, s.end) for s in row] for i, row in enumerate(found) if row]
print(json.dumps({"kinds": list(pii.PII_KINDS), "default": list(getattr(pii, "DEFAULT_KINDS", pii.PII_KINDS)),
                  "rows": len(texts), "seconds": seconds, "spans": [s for row in spans for s in row]}))
"""


def unpack(ref: str, into: Path) -> Path:
    """The ref's ``curate/`` and ``schemas/`` in ``into``; raises SystemExit on an unknown ref."""
    done = subprocess.run(["git", "archive", ref, "curate", "schemas"], capture_output=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"git archive {ref} failed: {done.stderr.decode().strip()}")
    with tarfile.open(fileobj=BytesIO(done.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def side(code: Path | None, *args: str, runner: str = FIND_RUNNER) -> dict:
    """Run ``runner`` with ``code`` (an unpacked ref) first on the path, or this tree."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    done = subprocess.run(
        [sys.executable, "-P", "-c", runner, *args], capture_output=True, text=True, cwd=REPO, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"runner failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_labelled() -> list[dict]:
    records = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in records:
        for span in r["pii"]:
            if r["text"][span["start"] : span["end"]] != span["text"]:
                raise SystemExit(f"{DATA.name}: record {r['id']}: span {span} does not match its text")
    return records


def prf(tp: int, fp: int, fn: int) -> tuple[str, str, str]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    return tuple("-" if v is None else f"{v:.2f}" for v in (p, r, f))  # type: ignore[return-value]


def counts(gold: set[tuple], found: set[tuple], kind: str) -> tuple[int, int, int]:
    g = {x for x in gold if x[1] == kind}
    f = {x for x in found if x[1] == kind}
    return len(g & f), len(f - g), len(g - f)


def library_phones(records: list[dict]) -> list[tuple[str, set[tuple]]]:
    from phonenumbers import Leniency, PhoneNumberMatcher

    out = []
    for name in ("POSSIBLE", "VALID", "STRICT_GROUPING", "EXACT_GROUPING"):
        leniency = getattr(Leniency, name)
        found = {
            (i, "phone", m.start, m.end)
            for i, r in enumerate(records)
            for m in PhoneNumberMatcher(r["text"], "KR", leniency)
        }
        out.append((f"phonenumbers alone, leniency {name}", found))
    return out


def labelled_tables(before: dict, after: dict, records: list[dict], ref: str, errors: bool) -> None:
    gold = {(i, s["kind"], s["start"], s["end"]) for i, r in enumerate(records) for s in r["pii"]}
    found = {name: {tuple(s) for s in result["spans"]} for name, result in (("before", before), ("after", after))}
    n_pii = sum(1 for r in records if r["pii"])
    print(f"Test set: {DATA.relative_to(REPO)}, {len(records)} records ({n_pii} with PII, "
          f"{len(records) - n_pii} without), {len(gold)} labelled items")  # fmt: skip
    print()
    print(f"| kind | labelled | before ({ref}): found | P | R | F1 | after: found | P | R | F1 | after default |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    total = {"before": [0, 0, 0], "after": [0, 0, 0]}
    for kind in after["kinds"]:
        cells = [kind, str(sum(1 for g in gold if g[1] == kind))]
        for name, result in (("before", before), ("after", after)):
            if kind not in result["kinds"]:
                cells += ["not a kind", "-", "0.00", "-"]
                tp, fp, fn = counts(gold, set(), kind)
            else:
                tp, fp, fn = counts(gold, found[name], kind)
                cells += [f"{tp + fp} ({fp} wrong)", *prf(tp, fp, fn)]
            total[name] = [a + b for a, b in zip(total[name], (tp, fp, fn), strict=True)]
        cells.append("yes" if kind in after["default"] else "opt-in")
        print("| " + " | ".join(cells) + " |")
    cells = ["all", str(len(gold))]
    for name in ("before", "after"):
        tp, fp, fn = total[name]
        cells += [f"{tp + fp} ({fp} wrong)", *prf(tp, fp, fn)]
    print("| " + " | ".join([*cells, ""]) + " |")
    print()
    print("Phone numbers: curate against phonenumbers alone over whole texts")
    print()
    print("| finder | found | wrong | missed | P | R | F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = [(f"curate before ({ref})", found["before"]), ("curate after", found["after"]), *library_phones(records)]
    for name, spans in rows:
        tp, fp, fn = counts(gold, spans, "phone")
        print(f"| {name} | {tp + fp} | {fp} | {fn} | {' | '.join(prf(tp, fp, fn))} |")
    if errors:
        print()
        print("After: wrong and missed items")
        print()
        for tag, items in (("wrong", found["after"] - gold), ("missed", gold - found["after"])):
            for i, kind, start, end in sorted(items):
                text = records[i]["text"]
                print(f"- {tag} {kind} `{text[start:end]}` in {records[i]['id']}: "
                      f"...{text[max(0, start - 20):end + 12]!r}")  # fmt: skip


def nsmc(code_before: Path, ref: str, rows: int, show: int) -> None:
    if not REVIEWS.exists():
        raise SystemExit(f"needs {REVIEWS}")
    with tempfile.TemporaryDirectory() as tmp:
        _, parquet = reviews_parquet(Path(tmp), rows)
        results = {
            name: side(code, str(parquet), str(STAGE_RUNS)) for name, code in (("before", code_before), ("after", None))
        }
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for _ in range(STAGE_RUNS):  # alternating, so load from other work hits both sides alike
            for name, code in (("before", code_before), ("after", None)):
                runs[name].append(side(code, str(parquet), "0", "pii", "{}", runner=CURATE_RUNNER))
        stage = {name: min(found, key=lambda m: m["seconds"]) for name, found in runs.items()}
        texts = None
        if show:
            import pyarrow.parquet as pq

            texts = pq.read_table(parquet, columns=["text"]).column("text").to_pylist()
    n = results["after"]["rows"]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"NSMC reviews: {n:,} rows; load average after the runs (1, 5, 15 min): {load}")
    print()
    kinds = results["after"]["kinds"]
    print("| side | " + " | ".join(kinds) + " | finder rows/s | pii stage rows/s | stage peak RSS (MB) |")
    print("|---|" + "---:|" * (len(kinds) + 3))
    for name, result in results.items():
        found = Counter(s[1] for s in result["spans"])
        cells = [str(found[k]) if k in result["kinds"] else "-" for k in kinds]
        speed = result["rows"] / result["seconds"]
        m = stage[name]
        label = f"before ({ref})" if name == "before" else "after"
        print(
            f"| {label} | {' | '.join(cells)} | {speed:,.0f} | {m['rows'] / m['seconds']:,.0f} | {m['rss_mb']:,.0f} |"
        )
    if texts is not None:
        print()
        by_kind: dict[str, list] = {}
        for i, kind, start, end in results["after"]["spans"]:
            by_kind.setdefault(kind, []).append((i, start, end))
        for kind, items in by_kind.items():
            print(f"{kind}: {len(items)} found; the first {min(show, len(items))}:")
            for i, start, end in items[:show]:
                text = texts[i]
                print(f"  [{text[start:end]}] in {text[max(0, start - 25) : end + 15]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git ref of the code to compare with (default: main)")
    parser.add_argument("--errors", action="store_true", help="list the wrong and missed items of the new code")
    parser.add_argument("--nsmc", action="store_true", help="also run on the NSMC reviews")
    parser.add_argument("--rows", type=int, default=0, help="with --nsmc: only the first N reviews (0 = all)")
    parser.add_argument("--show", type=int, default=0, help="with --nsmc: print N found values per kind")
    args = parser.parse_args()
    records = load_labelled()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print()
    with tempfile.TemporaryDirectory() as tmp:
        code = unpack(args.before, Path(tmp))
        before, after = side(code, str(DATA), "1"), side(None, str(DATA), "1")
        labelled_tables(before, after, records, args.before, args.errors)
        if args.nsmc:
            print()
            nsmc(code, args.before, args.rows, args.show)


if __name__ == "__main__":
    main()
