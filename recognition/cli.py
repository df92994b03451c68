"""What every script's command line shares: the common flags, checked values, one-line errors.

`run(main)` is each script's entry point: a failure the user can fix (missing model, no
dataset, bad flag value, unreadable file, a folder that is a file) prints one line
`error: ...` and exits with status 2; Ctrl-C prints `interrupted` and exits with 130.
Every file a run makes is written atomically (files.py), so an interrupted run never
leaves one half-written.  With --show, the figures open in windows once the run is done.
"""

import argparse
import sys
import warnings
from pathlib import Path

from recognition import training
from recognition.errors import UsageError, UserError
from recognition.paths import DATA_DIR, out_dir


def _number(convert, word, allowed, rule):
    """An argparse type: `convert` the text, then check it with `allowed`; `rule` words the check
    for errors."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {word}, got {text!r}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {value}")
        return value

    return parse


positive_int = _number(int, "a whole number", lambda v: v >= 1, "must be at least 1")
non_negative_int = _number(int, "a whole number", lambda v: v >= 0, "must be 0 or more")
positive_float = _number(float, "a number", lambda v: v > 0, "must be positive")
dropout_rate = _number(float, "a number", lambda v: 0.0 <= v < 1.0, "must be in [0, 1)")
port = _number(
    int, "a port number", lambda v: 0 <= v <= 65535, "must be in 0-65535 (0: any free port)"
)


def folder(text):
    """A folder path that may not exist yet, but is not a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder")
    return path


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line (not the usage block) and exit status 2, and
    --show switches the figures to windows as soon as the flags are read."""

    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        if getattr(parsed, "show", False):
            from recognition import plots

            plots.use_windows()
        return parsed


def parser(doc, step, show=True, out_help=None):
    """An ArgumentParser with the flags every script has; its description is the script's docstring.

    `step` names the default output folder, outputs/<step>/; a script whose default depends on
    its mode passes `step=None` and the words for --help in `out_help`.
    """
    p = ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data-dir",
        type=folder,
        default=DATA_DIR,
        help="where datasets are kept and fetched to (default: data/)",
    )
    p.add_argument(
        "--out-dir",
        type=folder,
        default=out_dir(step) if step else None,
        help="where figures, metrics.json and models go "
        f"(default: {out_help or f'outputs/{step}/'})",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="cpu, cuda, mps or auto = the first available of cuda, mps, cpu (default: auto)",
    )
    p.add_argument(
        "--seed", type=int, default=1, help="random seed for python, numpy and torch (default: 1)"
    )
    if show:
        p.add_argument(
            "--show",
            action="store_true",
            help="also open the figures in windows at the end (default: off)",
        )
    return p


def add_limits(p):
    """--train-limit and --test-limit: quick tries on the first N images of a split."""
    p.add_argument(
        "--train-limit",
        type=positive_int,
        default=None,
        help="use only the first N training images, for quick tries (default: all 60000)",
    )
    p.add_argument(
        "--test-limit",
        type=positive_int,
        default=None,
        help="use only the first N test images (default: all 10000)",
    )


def device(name):
    """training.pick_device(name), with an unavailable device as a one-line UsageError."""
    try:
        return training.pick_device(name)
    except ValueError as e:
        raise UsageError(e) from None


def _warning_line(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def run(main):
    """Call `main()`; turn the failures a user can fix into one line on stderr and a non-zero
    exit."""
    warnings.showwarning = _warning_line
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # a folder that is a file, no permission, a full disk: say which file, why
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as e:  # a message says what was kept (resumable.StateFile gives one)
        print(
            f"\ninterrupted: {str(e) or 'files already written are complete; rerun to finish'}",
            file=sys.stderr,
        )
        sys.exit(130)
    if "recognition.plots" in sys.modules:
        sys.modules["recognition.plots"].show_windows()
