"""The `ebm` command: run, eval, validate, graph, fetch, sweep, schema.

Exit codes: 0 success, 2 bad input (spec, data, arguments), 1 internal error. Bad input prints
one `FILE:LINE:COL: message` line per mistake on stderr and never a traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import traceback
import warnings
from pathlib import Path

from .errors import EbmError, Location, UsageError
from .backend.memory import keep_freed_memory


def _max_memory(parser) -> None:
    parser.add_argument("--max-memory", metavar="SIZE",
                        help="refuse specs estimated to need more memory than "
                        "this (e.g. 8G; default: the machine's physical memory)")


def _scheduler(parser, what: str, default: str = "serial") -> None:
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help=f"where {what} run: a Dask scheduler's address (tcp://host:port), "
                        f"`local` (a Dask LocalCluster of one process per core) or `serial` "
                        f"(default: {default})")


def _memory_limit(args) -> int | None:
    """--max-memory in bytes (None: the machine's physical memory)."""
    from .spec.resources import parse_size
    if not getattr(args, "max_memory", None):
        return None
    try:
        size = parse_size(args.max_memory)
    except ValueError as exc:
        raise UsageError(str(exc), Location("--max-memory", 1, 1)) from None
    if size <= 0:
        raise UsageError("must be more than 0", Location("--max-memory", 1, 1))
    return size


def _checked_spec(path, overrides, args):
    """The spec file at ``path``, refused (exit 2) when it gives nothing to run or would need
    more than the memory allowed."""
    from .spec import load_spec
    from .spec.checks import check_runnable
    from .spec.resources import check_resources
    spec = load_spec(path, overrides)
    check_runnable(spec)
    check_resources(spec, _memory_limit(args))
    return spec


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ebm", description="Declarative energy-based models.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train and evaluate the model of a spec")
    run.add_argument("spec", nargs="?", help="the spec file (omit with --resume)")
    run.add_argument("--out", help="run folder (default runs/<name>)")
    run.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    _overrides(run)
    run.add_argument("--backend", choices=("numpy", "cupy", "auto"))
    run.add_argument("--seed", type=int)
    run.add_argument("--quiet", action="store_true", help="no progress output")
    _max_memory(run)
    _scheduler(run, "a study's models")

    ev = sub.add_parser("eval", help="evaluate a finished run again from its saved model (no retraining)")
    ev.add_argument("run_dir")
    _overrides(ev)
    ev.add_argument("--quiet", action="store_true", help="no progress output")
    _max_memory(ev)
    _scheduler(ev, "a study's models")

    val = sub.add_parser("validate", help="check specs; exit 2 with FILE:LINE:COL lines if any is invalid")
    val.add_argument("specs", nargs="+")
    _overrides(val)
    _max_memory(val)

    graph = sub.add_parser("graph", help="print layers, couplings and block schedule; write GraphML/DOT")
    graph.add_argument("spec")
    graph.add_argument("--write", metavar="FILE", help="write the layer graph (.graphml or .dot)")
    _overrides(graph)
    _max_memory(graph)

    _sweep_parser(sub)
    sub.add_parser("schema", help="print the JSON Schema of specs (for editors' YAML language "
                   "servers)")

    fetch = sub.add_parser("fetch", help="download a data set (with checksums)")
    fetch.add_argument("dataset", choices=("mnist", "movielens"))
    fetch.add_argument("--dest",
                       help="folder (default: $EBMLANG_DATA/mnist or ~/.cache/ebmlang/mnist; for "
                            "movielens $EBMLANG_DATA or ~/.cache/ebmlang, which get ml-100k/ and "
                            "ml-1m/)")
    fetch.add_argument("--mirror",
                       help="base URL of the files (mnist: the four .gz files; movielens: the "
                            "zips)")
    return p


def _sweep_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="run the product of value grids over a spec, each trial a "
                        "run folder, on Dask when installed")
    sw.add_argument("spec")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY.PATH=V1,V2,...",
                    help="values to try at a spec path (repeatable; replaces the spec's "
                    "sweep.grid entry of that path)")
    sw.add_argument("--seeds", type=int, metavar="N", help="runs of every point, seeds s .. s+N-1")
    sw.add_argument("--out", help="sweep folder (default runs/<name>-sweep); rerun to resume")
    _scheduler(sw, "the trials", "local when dask.distributed is installed, else serial")
    sw.add_argument("--workers", type=int, help="LocalCluster processes (default: the cores)")
    sw.add_argument("--metric", help="the summary key plotted in sweep.png")
    _overrides(sw)


def _overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a spec value by its dotted path (repeatable)")


def cmd_run(args) -> int:
    from .runner import RunFolder, run
    overrides = list(args.overrides)
    if args.backend:
        overrides.append(f"backend={args.backend}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.resume:
        if args.spec:
            raise UsageError("give either a spec or --resume DIR, not both",
                             Location("--resume", 1, 1))
        spec_file = RunFolder(args.resume).resolved_spec()
        _check_resume_overrides(spec_file, overrides)
        run(_checked_spec(spec_file, overrides, args), args.resume, resume=True,
            progress=not args.quiet, scheduler=args.scheduler)
        return 0
    if not args.spec:
        raise UsageError("needs a spec file (or --resume DIR)", Location("ebm run", 1, 1))
    run(_checked_spec(args.spec, overrides, args), args.out, progress=not args.quiet,
        scheduler=args.scheduler)
    return 0


RESUMABLE = re.compile(r"(train(\.\d+)?|template(\.\w+)+)\.epochs|evaluate(\.\w+)+|backend")


def _check_resume_overrides(spec_file: Path, overrides: list) -> None:
    """--resume continues the run in its folder: it may train longer, evaluate otherwise or move
    to another backend, but a --set that changes the model, data or training would make the
    checkpoint another run's (one that sets a value the run already has is fine)."""
    from .spec import load_spec
    written = None
    for text in overrides:
        key = text.partition("=")[0].strip()
        if RESUMABLE.fullmatch(key):
            continue
        written = written or load_spec(spec_file)
        if load_spec(spec_file, [text]) != written:
            raise UsageError(f"--resume changes only the epochs (train.epochs, train.N.epochs, "
                             f"template.….epochs), evaluate.* and backend; '{key}' would make "
                             "another run: start it in a new folder", Location("--set", 1, 1))


def cmd_eval(args) -> int:
    from .runner import evaluate_run
    evaluate_run(args.run_dir, args.overrides, progress=not args.quiet, scheduler=args.scheduler,
                 memory_limit=_memory_limit(args))
    return 0


def cmd_validate(args) -> int:
    """Spec, resources, graph, edge, mask and initial-weight files: everything `ebm run` checks
    before it loads the data, so that validate accepts exactly what run accepts but for the data."""
    from .backend import get_namespace
    from .compile import lower
    from .compile.params import read_init_files
    from .graph import build_graph
    from .train.optim import check_groups
    problems = []
    for path in args.specs:
        try:
            spec = _checked_spec(path, args.overrides, args)
            if spec.model is not None:
                program = lower(build_graph(spec), get_namespace("numpy"), spec.dtype)
                read_init_files(spec, program)
                check_groups(spec, program)
            if spec.sweep is not None:          # every trial `ebm sweep` would run
                from .runner.sweep import check_sweep
                check_sweep(spec, path, args.overrides)
        except EbmError as exc:
            problems += exc.diagnostics
    for d in problems:
        print(d, file=sys.stderr)
    if not problems:
        print(f"{len(args.specs)} spec(s) valid")
    return 2 if problems else 0


def cmd_graph(args) -> int:
    from .backend import get_namespace
    from .compile import lower
    from .graph import build_graph
    from .graph.export import describe, write
    spec = _checked_spec(args.spec, args.overrides, args)
    program = lower(build_graph(spec), get_namespace("numpy"), spec.dtype)
    print(describe(program))
    if args.write is not None:
        try:
            write(program, Path(args.write))
        except ValueError as exc:
            raise UsageError(str(exc), Location("--write", 1, 1)) from None
        except OSError as exc:
            raise UsageError(f"cannot write '{args.write}': {exc.strerror or exc}",
                             Location("--write", 1, 1)) from None
        print(f"wrote {args.write}")
    return 0


def cmd_sweep(args) -> int:
    from .runner.sweep import SweepSettings, sweep
    if args.seeds is not None and args.seeds < 1:
        raise UsageError("must be at least 1", Location("--seeds", 1, 1))
    if args.workers is not None and args.workers < 1:
        raise UsageError("must be at least 1", Location("--workers", 1, 1))
    _checked_spec(args.spec, args.overrides, args)
    settings = SweepSettings(args.spec, args.out, tuple(args.grid), args.seeds,
                             tuple(args.overrides), args.scheduler, args.workers, args.metric)
    rows = sweep(settings, note=_printer())
    return 2 if any(r["status"] == "failed" for r in rows) else 0     # the table says which


def _printer():
    """print for progress lines, falling silent (not stopping the work) once the reader of a
    pipe has gone (`ebm sweep ... | head`)."""
    gone = False

    def note(text: str) -> None:
        nonlocal gone
        if gone:
            return
        try:
            print(text, flush=True)
        except BrokenPipeError:
            gone = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    return note


def cmd_schema(args) -> int:
    import json
    from .spec.json_schema import json_schema
    print(json.dumps(json_schema(), indent=1, ensure_ascii=False))
    return 0


def cmd_fetch(args) -> int:
    from .data import mnist, ratings
    try:
        if args.dataset == "movielens":
            dest = Path(args.dest) if args.dest else ratings.default_root()
            paths = ratings.fetch(dest, args.mirror or ratings.GROUPLENS)
        else:
            dest = Path(args.dest) if args.dest else mnist.candidate_dirs(None)[0]
            paths = mnist.fetch(dest, args.mirror or mnist.MIRROR)
    except OSError as exc:
        raise UsageError(f"download failed: {exc}", Location("ebm fetch", 1, 1)) from None
    except ValueError as exc:           # a checksum mismatch
        raise UsageError(str(exc), Location("ebm fetch", 1, 1)) from None
    print("\n".join(str(p) for p in paths))
    return 0


def _spec_named(args) -> str:
    """The spec a command works on, for an error with no better place to point at."""
    if getattr(args, "resume", None):
        return str(Path(args.resume) / "spec.resolved.yaml")
    if getattr(args, "run_dir", None):
        return str(Path(args.run_dir) / "spec.resolved.yaml")
    spec = getattr(args, "spec", None)
    return str(spec[0] if isinstance(spec, list) and spec else spec or "ebm")


@contextlib.contextmanager
def _one_line_per_mistake():
    """Keep NumPy's own warnings off stderr, where each mistake is one located line: its
    floating-point warnings (a diverging run is caught by its finiteness check, which names the
    setting to change; a measure that comes out non-finite is named by the run) and its note on
    an empty text file (refused by name). Other warnings still show."""
    import numpy as np
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
        yield


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    keep_freed_memory()
    command = {"run": cmd_run, "eval": cmd_eval, "validate": cmd_validate, "graph": cmd_graph,
               "fetch": cmd_fetch, "sweep": cmd_sweep, "schema": cmd_schema}[args.command]
    try:
        with _one_line_per_mistake():
            return command(args)
    except EbmError as exc:
        for d in exc.diagnostics:
            print(d, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:     # `ebm schema | head`: the reader had enough; nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:         # a size the memory estimate did not foresee: still the spec's
        print(f"{_spec_named(args)}:1:1: ran out of memory running this spec (an allocation "
              "its memory estimate did not foresee): make its sizes smaller", file=sys.stderr)
        return 2
    except Exception as exc:    # a bug of ours, not the user's: say so, keep it short
        if os.environ.get("EBM_DEBUG"):
            traceback.print_exc()
        print(f"ebm: internal error: {type(exc).__name__}: {exc} (set EBM_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
