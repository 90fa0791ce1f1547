"""The ``igmtf`` command line (also ``python -m igmtf_sklearn``).

Subcommands:

- ``igmtf demo``: fit IGMTF on a simulated market and print its test IC next
  to its pretrained GRU's and the true signal's (see :mod:`igmtf_sklearn.workflow`);
- ``igmtf run CONFIG``: a whole experiment from a YAML file or a built-in
  configuration (``igmtf run synthetic_small``);
- ``igmtf init [NAME] [PATH]``: write a built-in configuration to a file to edit.

Each subcommand is a ``(help, add_arguments, handler)`` entry of ``_COMMANDS``.

torch, pandas, scikit-learn and the rest load only inside the handlers (and
argument checks), so that ``igmtf --help`` answers at once;
``tests/test_cli.py`` checks that importing this module imports none of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .workflow import DemoConfig, builtin_configs


def _argument(kind, constraints):
    """An argparse ``type``: ``kind(text)``, checked against scikit-learn constraints.

    The package's one mechanism for parameter rules; the model's options take
    their constraints from ``IGMTFRegressor``. ``constraints`` is a function
    returning them, called only when a value is parsed: it imports scikit-learn.
    """
    what = "an integer" if kind is int else "a number"

    def parse(text):
        from ._utils._param_validation import constraint_problem

        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        problem = constraint_problem(constraints(), value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


def _int_at_least(minimum):
    def constraints():
        from numbers import Integral

        from sklearn.utils._param_validation import Interval

        return [Interval(Integral, minimum, None, closed="left")]

    return _argument(int, constraints)


def _model_option(name, kind):
    def constraints():
        from .nets import IGMTFRegressor

        return IGMTFRegressor._parameter_constraints[name]

    return _argument(kind, constraints)


def _threads(text):
    """``--threads``: ``auto`` (one thread, see ``n_threads``) or an int >= 1."""
    return "auto" if text == "auto" else _int_at_least(1)(text)


# -- demo ---------------------------------------------------------------------
def _add_demo_arguments(parser):
    defaults = DemoConfig()
    market = parser.add_argument_group("simulated market")
    market.add_argument(
        "--instruments",
        type=_int_at_least(10),
        default=defaults.n_instruments,
        help="number of instruments (default: %(default)s)",
    )
    market.add_argument(
        "--days",
        type=_int_at_least(100),
        default=defaults.n_days,
        help="number of trading days; the last 20%% are the test days (default: %(default)s)",
    )
    market.add_argument(
        "--window",
        type=_int_at_least(2),
        default=defaults.window,
        help="days of history per Alpha360 field; Qlib uses 60 (default: %(default)s)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--pretrain-epochs",
        type=_model_option("pretrain_epochs", int),
        default=defaults.pretrain_epochs,
        help="GRU pretraining epochs at most; 0 skips pretraining (default: %(default)s)",
    )
    model.add_argument(
        "--epochs",
        type=_model_option("max_epochs", int),
        default=defaults.epochs,
        help="IGMTF training epochs at most (default: %(default)s)",
    )
    model.add_argument(
        "--hidden-size",
        type=_model_option("hidden_size", int),
        default=defaults.hidden_size,
        help="GRU state width (default: %(default)s)",
    )
    model.add_argument(
        "--lr",
        type=_model_option("lr", float),
        default=defaults.lr,
        help="IGMTF learning rate (default: %(default)s)",
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=defaults.seed,
        help="seeds the market and the first model (default: %(default)s)",
    )
    run.add_argument(
        "--seeds",
        type=_int_at_least(1),
        default=defaults.seeds,
        help="models averaged, seeded SEED, SEED + 1, ...: the recommended configuration "
        "averages 3; 1 fits one model in a third of the time (default: %(default)s)",
    )
    run.add_argument(
        "--no-refit",
        dest="refit",
        action="store_false",
        help="fit each model once, without the refit on the training and validation days "
        "that the recommended configuration adds: about half the time",
    )
    run.add_argument(
        "--threads",
        type=_threads,
        default="auto",
        help="torch CPU threads, or 'auto': one, the fastest for these networks "
        "(default: %(default)s)",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="print the per-epoch training log"
    )
    run.add_argument(
        "--report-dir",
        default="runs/demo",
        help="folder for the HTML report of the test days and its figures; '' writes none "
        "(default: %(default)s)",
    )


def _run_demo(args):
    from .workflow import describe_demo, print_demo_report, run_demo, torch_threads

    config = DemoConfig(
        n_instruments=args.instruments,
        n_days=args.days,
        window=args.window,
        pretrain_epochs=args.pretrain_epochs,
        epochs=args.epochs,
        hidden_size=args.hidden_size,
        lr=args.lr,
        seed=args.seed,
        seeds=args.seeds,
        refit=args.refit,
        verbose=int(args.verbose),
        report_dir=args.report_dir or None,
    )
    try:
        config.validate()
    except ValueError as error:
        args.parser.error(str(error))
    with torch_threads(args.threads):
        print(describe_demo(config), flush=True)
        result = run_demo(config)
    print_demo_report(result)
    return 0


# -- run ----------------------------------------------------------------------
def _add_run_arguments(parser):
    parser.add_argument(
        "config",
        help="workflow configuration: a YAML file, or the name of a built-in one ("
        + ", ".join(builtin_configs())
        + "); `igmtf init` writes one to edit",
    )
    parser.add_argument(
        "--threads",
        type=_threads,
        default="auto",
        help="torch threads, or 'auto': one, the fastest for these networks "
        "(default: %(default)s); "
        "a model.n_threads in the configuration wins",
    )
    parser.add_argument("--quiet", action="store_true", help="print no progress, only results")


def _metrics_table(metrics):
    """The signal and risk figures of a run, as Qlib's ``qrun`` reports them."""
    rows = {"signal": metrics["signal"]}
    for name in ("excess_return_without_cost", "excess_return_with_cost"):
        rows[name] = metrics[name]
    lines = []
    for section, values in rows.items():
        lines.append(section)
        lines.extend(f"  {key:<24s} {value: .6f}" for key, value in values.items())
    return "\n".join(lines)


def _run_workflow(args):
    from .workflow import load_config, run_workflow

    try:
        config = load_config(args.config)
        if isinstance(config.get("model"), dict):
            config["model"].setdefault("n_threads", args.threads)
        result = run_workflow(config, progress=not args.quiet)
    except ValueError as error:
        print(f"igmtf run: {error}", file=sys.stderr)
        return 2
    print(_metrics_table(result["metrics"]))
    print(f"outputs in {result['output_dir']}: " + ", ".join(sorted(result["files"])))
    return 0


# -- init ---------------------------------------------------------------------
def _add_init_arguments(parser):
    names = builtin_configs()
    parser.add_argument(
        "name",
        nargs="?",
        default="synthetic_small",
        choices=names,
        metavar="NAME",
        help=f"the built-in configuration: {', '.join(names)} (default: %(default)s)",
    )
    parser.add_argument(
        "path",
        metavar="PATH",
        nargs="?",
        help="the file to write, or a folder to write NAME.yaml into "
        "(default: NAME.yaml here); an existing file is never overwritten",
    )


def _init_config(args):
    from .workflow import write_config

    try:
        path = write_config(args.name, args.path)
    except (OSError, ValueError) as error:
        print(f"igmtf init: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}; edit it, then run: igmtf run {path}")
    return 0


# name -> (help, add_arguments, handler).
_COMMANDS = {
    "demo": (
        "fit IGMTF on a simulated market and compare it with its GRU base and the true signal",
        _add_demo_arguments,
        _run_demo,
    ),
    "run": (
        "run a whole experiment from a YAML configuration: data, model, backtest, report",
        _add_run_arguments,
        _run_workflow,
    ),
    "init": (
        "write a built-in configuration to a YAML file, to edit and then run",
        _add_init_arguments,
        _init_config,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``igmtf`` argument parser, one subparser per command.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="igmtf",
        description="Qlib's IGMTF stock-return model as a scikit-learn estimator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add_arguments, handler) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(handler=handler, parser=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``igmtf`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success. Invalid arguments exit with status 2 (argparse's
        ``SystemExit``) after printing the usage and the error.
    """
    args = build_parser().parse_args(argv)
    return args.handler(args)
