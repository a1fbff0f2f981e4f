"""How fast the redactor reads text, and how often it fires on ordinary code.

Runs ``indexers.redaction.Redactor`` over every text file of an installed package's
source (default: sqlalchemy from this venv) or a directory, secrets rules only and
with personal data, and prints characters per second and the hits per rule (false
positives on code nobody planted secrets in). Asserts nothing.

    .venv/bin/python bench/redaction_bench.py [--package sqlalchemy | --dir PATH] [--show N]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexers.chunking.languages import detect_language  # noqa: E402
from indexers.redaction import Redactor  # noqa: E402

TEXT_SUFFIXES = {".py", ".pyi", ".md", ".rst", ".txt", ".cfg", ".toml", ".yaml", ".yml", ".json", ".ini",
                 ".js", ".ts", ".go", ".java", ".html", ".sh"}


def files_of(args: argparse.Namespace) -> list[Path]:
    if args.dir:
        root = Path(args.dir)
    else:
        spec = importlib.util.find_spec(args.package)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"package {args.package!r} is not installed in this environment")
        root = Path(list(spec.submodule_search_locations)[0])
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES
                  and "__pycache__" not in p.parts and ".git" not in p.parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="sqlalchemy")
    parser.add_argument("--dir")
    parser.add_argument("--show", type=int, default=15, help="redacted lines to print")
    args = parser.parse_args()
    texts = []
    for path in files_of(args):
        try:
            texts.append((path, path.read_text()))
        except (UnicodeDecodeError, OSError):
            continue
    chars = sum(len(t) for _, t in texts)
    redactor = Redactor()
    for pii in (False, True):
        hits: Counter[str] = Counter()
        shown = 0
        started = time.perf_counter()
        for path, text in texts:
            result = redactor.redact(text, path=path.name, language=detect_language(path.name), pii=pii)
            hits.update(result.counts())
            if not pii and shown < args.show:
                lines = result.text.split("\n")
                for hit in result.hits[: args.show - shown]:
                    print(f"  {path.name}:{hit.line} {lines[hit.line - 1].strip()[:120]}")
                    shown += 1
        seconds = time.perf_counter() - started
        print(f"{'secrets+pii' if pii else 'secrets'}: {len(texts)} files, {chars / 1e6:.2f} M chars in "
              f"{seconds:.2f} s = {chars / seconds / 1e6:.2f} M chars/s; hits {sum(hits.values())} {dict(hits)}")


if __name__ == "__main__":
    main()
