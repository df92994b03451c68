"""What every task script's command line shares: common flags, checked values, one-line errors.

`run(main)` is each script's entry point: a known failure (missing model, no
dataset, bad flag value, unreadable file) prints one line `error: ...` and exits
with status 2; Ctrl-C prints `interrupted` and exits with 130.  Files a run makes
are written atomically, so an interrupted run never leaves one half-written.
"""
import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import training
from dataio import DATA_DIR, ROOT, DataError
from models import CheckpointError

OUT_DIR = ROOT / "outputs"


class UsageError(Exception):
    """A flag value or input that the script cannot use; the message says what to do."""


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def dropout_rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line (not the usage block) and exit status 2."""

    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def parser(doc, out_name):
    """An ArgumentParser with the flags every script has; its description is the script's docstring."""
    p = ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=DATA_DIR,
                   help="where datasets are kept and fetched to (default: data/)")
    p.add_argument("--out-dir", type=Path, default=OUT_DIR / out_name,
                   help=f"where figures and metrics.json go (default: outputs/{out_name}/)")
    p.add_argument("--device", default="auto",
                   help="cpu, cuda, mps or auto = the first available of cuda, mps, cpu (default: auto)")
    p.add_argument("--seed", type=int, default=1, help="random seed for python, numpy and torch (default: 1)")
    p.add_argument("--show", action="store_true", help="also open each figure in a window (default: off)")
    return p


def device(name):
    """training.pick_device(name), with an unavailable device as a one-line UsageError."""
    try:
        return training.pick_device(name)
    except ValueError as e:
        raise UsageError(e) from None


def write_text(text, path):
    """Write `text` to `path` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(obj, path):
    """Write `obj` as indented JSON to `path` atomically."""
    return write_text(json.dumps(obj, indent=2) + "\n", path)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def run(main):
    """Call `main()`; turn the failures a user can fix into one line on stderr and a non-zero exit."""
    warnings.showwarning = _warning_line
    try:
        main()
    except (UsageError, DataError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted: files already written are complete; rerun to finish", file=sys.stderr)
        sys.exit(130)
