"""report.html: its size and the time and memory it takes to write, per run folder.

    .venv/bin/python benchmarks/report.py RUN_DIR [RUN_DIR ...]

Each folder is reported in its own subprocess (``curate.report.html.write_html_report`` into a
temporary file, the Vega bundle already in the disk cache): rows the run read, stages, charts,
seconds, peak RSS, and the page's bytes split into the inlined Vega bundle, the chart specs and the
rest (text, examples, tables). Output is Markdown.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(run_dir: str) -> dict:
    from curate.report.charts import vega_bundle
    from curate.report.html import write_html_report
    from curate.report.load import load_run

    vega_bundle()  # bundled once per machine; the measurement is the report itself
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_html_report(run_dir, Path(tmp) / "report.html")
        seconds = time.perf_counter() - started
        page = path.read_text(encoding="utf-8")
    specs = page.split("<script type='application/json' id='curate-charts'>", 1)[1].split("</script>", 1)[0]
    run = load_run(run_dir)
    return {
        "run": Path(run_dir).name,
        "rows": run.input_rows,
        "stages": len(run.stages),
        "charts": len(json.loads(specs)),
        "seconds": seconds,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes": len(page.encode()),
        "bundle": len(vega_bundle().encode()),
        "specs": len(specs.encode()),
    }


def main(folders: list[str]) -> None:
    columns = ["run", "input rows", "stages", "charts", "seconds", "peak RSS (MB)", "report bytes", "Vega bundle"]
    print("| " + " | ".join([*columns, "chart specs", "rest"]) + " |")
    print("|---|" + "---:|" * (len(columns) + 1))
    for folder in folders:
        code = f"import json, benchmarks.report as b; print(json.dumps(b.measure({folder!r})))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        m = json.loads(out.strip().splitlines()[-1])
        rest = m["bytes"] - m["bundle"] - m["specs"]
        print(
            f"| {m['run']} | {m['rows']:,} | {m['stages']} | {m['charts']} | {m['seconds']:.2f} | {m['rss_mb']:.0f} "
            f"| {m['bytes']:,} | {m['bundle']:,} | {m['specs']:,} | {rest:,} |"
        )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
