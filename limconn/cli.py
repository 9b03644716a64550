"""The command line: `python -m limconn COMMAND ...`, for scripts and batch runs.

Commands:

* `presets`, `tasks`, `strategies`: what is registered, with parameters (type, default, help).
* `mask PRESET --inputs D --units U [--PARAM VALUE ...] [--dale F [--dale-seed S]]
  --out design.npz [--npy-dir DIR]`: builds a design from a preset; each preset's
  parameters are its own options (`python -m limconn mask random --help`); `--dale` gives
  the units signs (Dale's law, `limconn.presets.with_dale`).
* `mask from-csv FILE (--inputs-csv FILE | --inputs D) --out design.npz`: a design from
  adjacency matrices kept as CSV (`limconn.adjacency`).
* `prune --run DIR --keep F --out design.npz [--per-gate] [--random-control FILE --seed S]`:
  a design of a trained run's strongest connections (`limconn.pruning`).
* `train [--design FILE | --input-mask FILE ...] (--task NAME | --data FILE) ... [--out DIR]`:
  trains with a progress bar and writes the run folder of `limconn.runs` at `--out`, or into
  the run store; without a design, the default one (`DEFAULT_DESIGN`: random, 32 units at
  density 0.5, sized to the data). Ctrl-C stops after the current batch and still saves the
  partial run.
  `--init-from RUN_DIR` starts from that run's initial weights (a lottery-ticket retrain).
  `--resume RUN` (a run folder, or a run id in `--workspace`) continues a stopped run from
  its last finished epoch (`checkpoint.npz`) to its epoch count, with the same data options.
* `sweep --design A.npz B.npz ... [--seeds 0 1 ...] (--task NAME | --data FILE) ... --out DIR
  [--backend local|ray]`: one run folder per design and seed, `DIR/<stem>-seed<S>`; the
  designs of a seed train as one model (`limconn.sweep`). Same options as `train`.
* `runs list [--tag T] | export | delete | rename RUN NAME | tag RUN [TAG ...] | note RUN
  TEXT`: the run store (`$LIMCONN_HOME/runs`); a run's tags and note live in its `run.json`.
* `evaluate --run DIR (--task NAME [--task-param K=V ...] | --data FILE ...) [--out FILE]`:
  a trained run's loss and metric on other data, e.g. longer sequences than it trained on
  (`limconn.evaluation`); prints them, and writes them as JSON to `--out`.
* `analyze --run DIR (--task NAME [--task-param K=V ...] | --data FILE ...) [--what NAME ...]
  --out DIR`: trajectories, spectra, fixed points, lesions and attributions of a run on the
  data (`limconn.analysis`), written as `analysis.json` and `analysis.npz` in `--out`.
* `export --run DIR --format torch --out FILE.safetensors`: a trained run's LSTM and readout
  as a PyTorch state dict (`limconn.export`); torch is not needed to write it.
* `admin status | expire --older-than 30d [--dry-run] | clean [--dry-run]`: looking after a
  server's home (`limconn.admin`).

Example:

```
python -m limconn mask random --inputs 2 --units 32 --density 0.5 --seed 1 --out design.npz
python -m limconn train --design design.npz --task adding --epochs 5 --out runs/first
python -m limconn export --run runs/first --format torch --out first.safetensors
python -m limconn sweep --design a.npz b.npz --seeds 0 1 --task adding --epochs 5 --out runs/ab
```

Any refusal (a bad value, a missing or unsafe file, an unknown name) is one line on stderr,
`limconn: error: ...`, with exit status 1 (2 for malformed command lines, 130 after Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from tqdm import tqdm

from limconn import (
    adjacency,
    admin,
    analysis,
    compare,
    data,
    evaluation,
    presets,
    pruning,
    runs,
    sweep,
)
from limconn.checkpoints import CHECKPOINT_FILE, read_checkpoint
from limconn.connectivity import Connectivity, load_mask_npy, save_mask_npy
from limconn.presets import PRESETS
from limconn.registry import Registry
from limconn.strategies import STRATEGIES
from limconn.trainconfig import LR_SCHEDULES, OPTIMIZERS, Progress, TrainConfig

PROG = "python -m limconn"
EXPORT_FORMATS = ("torch",)
"""What `export --format` writes (`limconn.export`)."""
_DEFAULTS = TrainConfig()
DEFAULT_DESIGN = {"units": 32, "density": 0.5, "seed": 0}
"""`train` without a design: `presets.random` with these values, as many inputs as the data."""
_PRESET_PARAM = "preset_param_"
"""Prefix of the argparse destinations of preset parameters, apart from the fixed options."""


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are one line on stderr."""

    def error(self, message):
        self.exit(2, f"limconn: error: {message} (see: {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the exit status.

    Args:
        argv: the arguments after the program name; `sys.argv[1:]` when `None`.
    """
    args, extras = build_parser().parse_known_args(argv)
    if extras:
        args.parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        return args.command(args)
    except BrokenPipeError:  # the reader went away (`... | head`): nothing left to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stays open until exit)
        return 0
    except (ValueError, OSError) as error:
        print(f"limconn: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("limconn: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, preset options generated from `PRESETS`."""
    parser = _Parser(prog=PROG, description="Exact limited connectivity for Keras LSTMs.")
    commands = parser.add_subparsers(metavar="COMMAND", required=True)
    for registry, what in ((PRESETS, "presets"), (data.TASKS, "tasks"), (STRATEGIES, "strategies")):
        listing = commands.add_parser(what, help=f"list the {what} and their parameters")
        listing.set_defaults(command=_list_registry, parser=listing, registry=registry)
    _add_mask_parser(commands)
    _add_train_parser(commands)
    _add_sweep_parser(commands)
    _add_runs_parser(commands)
    _add_evaluate_parser(commands)
    _add_analyze_parser(commands)
    _add_export_parser(commands)
    _add_prune_parser(commands)
    admin.add_parser(commands)
    return parser


# --------------------------------------------------------------------------------------------
# presets, tasks, strategies
# --------------------------------------------------------------------------------------------


def _list_registry(args) -> int:
    """Prints each entry's name and summary, what a strategy enforces, then its parameters:
    name, type, default, help."""
    for entry in args.registry.entries():
        print(f"{entry.name}: {entry.summary}")
        if "enforces" in entry.attributes:
            for line in entry.attributes["enforces"].describe():
                print(f"  - {line}")
        rows = [(p.name, p.kind.__name__, repr(p.default), p.help) for p in entry.parameters]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
        for name, kind, default, text in rows:
            print(f"    {name:<{widths[0]}}  {kind:<{widths[1]}}  {default:<{widths[2]}}  {text}")
    return 0


# --------------------------------------------------------------------------------------------
# mask
# --------------------------------------------------------------------------------------------


def _add_mask_parser(commands) -> None:
    mask = commands.add_parser(
        "mask",
        help="build a design from a preset and save it",
        description="Builds a design from a preset (or, with `from-csv`, from adjacency "
        "CSV files); see `mask PRESET --help` for its options.",
    )
    common = _Parser(add_help=False)
    common.add_argument(
        "--inputs", type=int, required=True, metavar="D", help="input features (mask rows)"
    )
    common.add_argument("--units", type=int, required=True, metavar="U", help="LSTM units")
    written = _design_output_parser()
    common.add_argument(
        "--dale", type=float, default=0.0, metavar="F",
        help="Dale's law: this share of units excitatory, the rest inhibitory, in all their "
        "outgoing recurrent weights (default: 0, no signs)",
    )
    common.add_argument(
        "--dale-seed", type=int, default=0, metavar="S",
        help="with --dale: which units are excitatory (default: %(default)s)",
    )
    chosen = mask.add_subparsers(dest="preset", metavar="PRESET", required=True)
    for entry in PRESETS.entries():
        preset = chosen.add_parser(
            entry.name,
            parents=[common, written],
            help=entry.summary,
            description=f"{entry.summary} {entry.description}",
        )
        for parameter in entry.parameters:
            flags = {f"--{parameter.name.replace('_', '-')}", f"--{parameter.name}"}
            preset.add_argument(
                *sorted(flags),
                dest=_PRESET_PARAM + parameter.name,
                default=argparse.SUPPRESS,
                metavar=parameter.kind.__name__.upper(),
                help=f"{parameter.help} (default: {parameter.default!r})",
            )
        preset.set_defaults(command=_make_mask, parser=preset)
    _add_mask_from_csv_parser(chosen, written)


def _make_mask(args) -> int:
    params = {
        key.removeprefix(_PRESET_PARAM): value
        for key, value in vars(args).items()
        if key.startswith(_PRESET_PARAM)
    }
    design = presets.get(
        args.preset, args.inputs, args.units, dale=args.dale, dale_seed=args.dale_seed, **params
    )
    _write_design(design, args.out, args.npy_dir)
    return 0


def _design_output_parser() -> argparse.ArgumentParser:
    """`--out` and `--npy-dir`, shared by the commands that write a design."""
    written = _Parser(add_help=False)
    written.add_argument("--out", required=True, metavar="FILE", help="the design .npz to write")
    written.add_argument(
        "--npy-dir", metavar="DIR",
        help="also write input_mask.npy, recurrent_mask.npy and output_mask.npy here",
    )
    return written


def _add_mask_from_csv_parser(chosen, written: argparse.ArgumentParser) -> None:
    parser = chosen.add_parser(
        "from-csv",
        parents=[written],
        help="read a design from adjacency matrices in CSV files",
        description="Reads the unit → unit adjacency matrix from FILE (rows = sources, "
        "columns = targets, non-zero = connected, the value's sign = the sign as --signs "
        "says; optional header row and first column of names) and saves the design. Inputs "
        "come from --inputs-csv (an input → unit matrix), or reach every unit with --inputs D.",
    )
    parser.add_argument("file", metavar="FILE", help="the unit → unit adjacency CSV (U x U)")
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument(
        "--inputs-csv", metavar="FILE", help="the input → unit adjacency CSV (D x U)"
    )
    inputs.add_argument(
        "--inputs", type=int, metavar="D", help="D inputs, each reaching every unit"
    )
    parser.add_argument(
        "--signs", choices=list(adjacency.SIGN_MODES), default="auto",
        help="; ".join(f"{mode}: {text}" for mode, text in adjacency.SIGN_MODES.items())
        + " (default: %(default)s)",
    )
    parser.add_argument("--name", help="the design's name (default: FILE's name)")
    parser.set_defaults(command=_mask_from_csv, parser=parser)


def _mask_from_csv(args) -> int:
    design = Connectivity.from_csv(
        args.file, args.inputs_csv, input_dim=args.inputs, signs=args.signs, name=args.name
    )
    _write_design(design, args.out, args.npy_dir)
    return 0


def _write_design(design: Connectivity, out: str, npy_dir: str | None) -> None:
    """Writes the design's `.npz` (and each mask as `.npy` into `npy_dir`), then says what."""
    Path(out).write_bytes(design.to_npz_bytes())
    written = [out]
    if npy_dir:
        folder = Path(npy_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for field, name in runs.MASK_FILES.items():
            save_mask_npy(folder / name, getattr(design, field))
            written.append(str(folder / name))
    stats = design.stats()
    signs = [
        f"{what} signs {counts.excitatory} E / {counts.inhibitory} I / {counts.free} free "
        f"per {counts.per}"
        for what, counts in (("input", stats.input_signs), ("recurrent", stats.recurrent_signs))
        if counts is not None
    ]
    print(
        f"{design.name}: {design.input_dim} inputs x {design.units} units, input density "
        f"{stats.input_density:.2f}, recurrent density {stats.recurrent_density:.2f}, "
        f"{stats.effective_parameters} of {stats.dense_parameters} LSTM parameters"
        f"{''.join(', ' + text for text in signs)}. Wrote {', '.join(written)}."
    )


# --------------------------------------------------------------------------------------------
# train and sweep
# --------------------------------------------------------------------------------------------


def _add_train_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a design and save the run",
        description="Trains a design on a synthetic task or a data file and saves the run "
        "folder (run.json, history.csv, masks.npz, weights.npz, model.keras, "
        "initial.weights.h5). Ctrl-C stops after the current batch and saves the partial run.",
    )
    design = parser.add_argument_group(
        "design (one of; default: random, {units} units, density {density}, seed {seed}, "
        "as many inputs as the data)".format(**DEFAULT_DESIGN)
    )
    source = design.add_mutually_exclusive_group()
    source.add_argument("--design", metavar="FILE", help="a design .npz (from `mask`, the app)")
    source.add_argument("--input-mask", metavar="FILE", help="an input mask .npy (D, U)")
    design.add_argument(
        "--recurrent-mask", metavar="FILE", help="with --input-mask: a recurrent mask .npy (U, U)"
    )
    design.add_argument(
        "--output-mask", metavar="FILE", help="with --input-mask: an output mask .npy (U,)"
    )
    model, output = _add_run_options(parser)
    model.add_argument(
        "--seed", type=int, default=_DEFAULTS.seed, metavar="S",
        help="seeds initial weights, shuffling and random strategies (default: %(default)s)",
    )
    output.add_argument(
        "--out", metavar="DIR", help="the run folder to create (default: a new run in the store)"
    )
    parser.add_argument(
        "--resume", metavar="RUN",
        help="continue a stopped run (its folder, or its id in --workspace) from its last "
        "finished epoch to its epoch count, with its design and settings; give the same data "
        "options it trained with",
    )
    parser.set_defaults(command=_train, parser=parser)


def _add_sweep_parser(commands) -> None:
    parser = commands.add_parser(
        "sweep",
        help="train several designs with several seeds, one model per seed",
        description="Trains every design with every seed and writes one run folder each, "
        "OUT/<design file stem>-seed<S>, with the files of `train --out`. The designs of a "
        "seed train together as branches of one model, each as it would alone. Ctrl-C "
        "stops the running groups after their batch and saves their partial runs.",
    )
    parser.add_argument(
        "--design", action="extend", nargs="+", required=True, metavar="FILE",
        help="design .npz files (repeatable); their file name stems must differ",
    )
    model, output = _add_run_options(parser)
    model.add_argument(
        "--seeds", type=int, nargs="+", default=[_DEFAULTS.seed], metavar="S",
        help="one run per design and seed (default: %(default)s)",
    )
    output.add_argument(
        "--out", required=True, metavar="DIR", help="the folder to put the run folders in"
    )
    output.add_argument(
        "--backend", choices=sweep.BACKENDS, default="local",
        help="local: one group after another in this process; ray: groups as parallel Ray "
        f"tasks, on this machine or at ${sweep.RAY_ADDRESS_VARIABLE} (needs "
        "requirements-ray.txt) (default: %(default)s)",
    )
    parser.set_defaults(command=_sweep, parser=parser)


def _add_run_options(parser) -> tuple[argparse._ArgumentGroup, argparse._ArgumentGroup]:
    """The options `train` and `sweep` share; returns the model and output groups, for the
    options each adds (`--seed` or `--seeds`, `--out`)."""
    model = parser.add_argument_group("model and training")
    model.add_argument(
        "--strategy", default=_DEFAULTS.strategy, choices=STRATEGIES.names(), metavar="NAME",
        help=f"how the design is enforced: {', '.join(STRATEGIES.names())} "
        "(default: %(default)s)",
    )
    model.add_argument(
        "--strategy-param", action="append", default=[], metavar="KEY=VALUE",
        help="a parameter of the strategy (repeatable; see `strategies`)",
    )
    model.add_argument(
        "--epochs", type=int, default=_DEFAULTS.epochs, metavar="N", help="(default: %(default)s)"
    )
    model.add_argument(
        "--batch-size", type=int, default=_DEFAULTS.batch_size, metavar="N",
        help="(default: %(default)s)",
    )
    model.add_argument(
        "--learning-rate", type=float, default=_DEFAULTS.learning_rate, metavar="LR",
        help="(default: %(default)s)",
    )
    model.add_argument(
        "--optimizer", default=_DEFAULTS.optimizer, choices=OPTIMIZERS,
        help="(default: %(default)s)",
    )
    model.add_argument(
        "--validation-split", type=float, default=_DEFAULTS.validation_split, metavar="F",
        help="share of the data held out for validation; a CSV is split in time order "
        "(default: %(default)s)",
    )
    model.add_argument(
        "--init-from", default=_DEFAULTS.init_from, metavar="DIR",
        help="start from the initial weights of this run folder (same strategy and sizes; "
        "weights the design masks start at 0): a lottery-ticket retrain",
    )
    _add_training_controls(parser)

    _add_data_options(parser)

    output = parser.add_argument_group("output")
    output.add_argument(
        "--workspace", default="default", metavar="W",
        help="the store's workspace to save into; with --out, recorded in run.json "
        "(default: %(default)s)",
    )
    output.add_argument(
        "--name", default="",
        help="the run's name (default: design, strategy, dataset; a sweep adds design file "
        "and seed)"
    )
    return model, output


def _add_data_options(parser) -> None:
    """The data options `train`, `sweep` and `evaluate` share (`_load_dataset` reads them)."""
    dataset = parser.add_argument_group("data (one of)")
    chosen = dataset.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--task", metavar="NAME", help="a synthetic task (see `tasks`)")
    chosen.add_argument(
        "--data", metavar="FILE", help="a .csv time series, an .npz with X and y, or X as .npy"
    )
    dataset.add_argument(
        "--task-param", action="append", default=[], metavar="KEY=VALUE",
        help="a parameter of the task (repeatable; see `tasks`)",
    )
    dataset.add_argument("--targets", metavar="FILE", help="with --data X.npy: y as .npy")
    dataset.add_argument(
        "--target", action="extend", nargs="+", default=[], metavar="COLUMN",
        help="CSV: the column(s) to predict",
    )
    dataset.add_argument(
        "--features", action="extend", nargs="+", default=[], metavar="COLUMN",
        help="CSV: the input columns (default: every numeric column except the targets)",
    )
    dataset.add_argument("--window", type=int, metavar="N", help="CSV: rows per sequence")
    dataset.add_argument(
        "--horizon", type=int, default=1, metavar="N",
        help="CSV: rows after a window's last row to predict (default: %(default)s)",
    )
    dataset.add_argument(
        "--missing", choices=data.MISSING_POLICIES, default="error",
        help="CSV: what to do with empty or NaN cells (default: %(default)s)",
    )
    dataset.add_argument(
        "--kind", choices=data.KINDS,
        help="regression or classification (default: regression for a CSV, inferred from "
        "y for arrays)",
    )


def _add_training_controls(parser) -> None:
    """The `TrainConfig` controls beyond the basics, and the time limit; `TrainConfig`
    checks their values."""
    controls = parser.add_argument_group("training controls (TrainConfig checks the values)")
    controls.add_argument(
        "--test-split", type=float, default=_DEFAULTS.test_split, metavar="F",
        help="share of the data held out as a test set before the validation split, never "
        "seen by training; its loss and metric go in run.json (default: %(default)s)",
    )
    controls.add_argument(
        "--early-stopping", type=int, default=_DEFAULTS.early_stopping, metavar="EPOCHS",
        help="patience: stop when the validation loss has not improved for this many epochs "
        "and keep the best epoch's weights; 0: off (default: %(default)s)",
    )
    controls.add_argument(
        "--lr-schedule", default=_DEFAULTS.lr_schedule, choices=LR_SCHEDULES,
        help="cosine: down to 0 at the last step; exponential: down to 1/100 "
        "(default: %(default)s)",
    )
    controls.add_argument(
        "--warmup-steps", type=int, default=_DEFAULTS.warmup_steps, metavar="N",
        help="optimizer steps of linear learning-rate warm-up (default: %(default)s)",
    )
    controls.add_argument(
        "--clipnorm", type=float, default=_DEFAULTS.clipnorm, metavar="NORM",
        help="clip each weight's gradient to this norm; 0: off (default: %(default)s)",
    )
    controls.add_argument(
        "--weight-decay", type=float, default=_DEFAULTS.weight_decay, metavar="WD",
        help="the optimizer's weight decay (default: the optimizer's own, AdamW's 0.004)",
    )
    for name in ("l1", "l2"):
        controls.add_argument(
            f"--{name}", type=float, default=getattr(_DEFAULTS, name), metavar="F",
            help=f"{name.upper()} penalty on the LSTM's effective input and recurrent weights "
            "(masked weights add nothing) (default: %(default)s)",
        )
    controls.add_argument(
        "--max-seconds", type=float, metavar="S",
        help="stop (and save) a run, or each seed's group of a sweep, after this many "
        "seconds of training (default: no limit)",
    )


def _config(args, seed: int) -> TrainConfig:
    """The `TrainConfig` of the shared options, with `seed`."""
    return TrainConfig(
        strategy=args.strategy,
        strategy_options=_keywords(STRATEGIES, args.strategy, args.strategy_param),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        optimizer=args.optimizer,
        seed=seed,
        validation_split=args.validation_split,
        name=args.name,
        init_from=str(Path(args.init_from).resolve()) if args.init_from else "",
        test_split=args.test_split,
        early_stopping=args.early_stopping,
        lr_schedule=args.lr_schedule,
        warmup_steps=args.warmup_steps,
        clipnorm=args.clipnorm,
        weight_decay=args.weight_decay,
        l1=args.l1,
        l2=args.l2,
    )


def _train(args) -> int:
    runs.check_name(args.workspace, "--workspace")
    if args.out is not None and Path(args.out).exists():
        raise ValueError(f"--out {args.out} already exists; choose a new run folder.")
    store = runs.RunStore()
    dataset = _load_dataset(args)
    resume_from = None
    if args.resume is None:
        design = _load_design(args, dataset.input_dim)
        config = _config(args, args.seed)
    else:
        if args.design or args.input_mask:
            raise ValueError("--resume continues the run's own design; leave out --design and "
                             f"--input-mask. Received: --resume {args.resume}")
        folder = Path(args.resume)
        if not folder.is_dir():
            folder = store.load(args.resume, args.workspace).info.path
        resume_from = read_checkpoint(folder / CHECKPOINT_FILE)
        resume_from.check_resumable(dataset.content_hash())
        [design], config = resume_from.designs, resume_from.config
        print(f"Resuming {folder.name} after epoch {resume_from.epoch} of {config.epochs}")
    print(f"Training {design.name or 'the design'} ({config.strategy}) on {dataset.description}")
    from limconn.training import stop_on_interrupt, train  # loads the Keras backend, quietly

    # A checkpoint at every finished epoch: a stopped run keeps a copy in its folder.
    checkpoint = store.checkpoint_path(args.workspace, f"cli-{runs.new_run_id()}")
    bar = _ProgressBar()
    try:
        result, interrupted = stop_on_interrupt(
            lambda stop: train(config, design, dataset, on_progress=bar, stop_event=stop,
                               max_seconds=args.max_seconds, checkpoint=checkpoint,
                               resume_from=resume_from),
            on_interrupt=_say_stopping,
        )
    finally:
        bar.close()
    try:
        if args.out is None:
            folder = store.save(result, args.workspace).path
        else:
            folder = runs.write_run_folder(
                result,
                args.out,
                run_id=runs.new_run_id(),
                name=runs.default_name(result),
                workspace=args.workspace,
            )
    finally:
        checkpoint.unlink(missing_ok=True)
    print(
        f"Run {_summary(result.status, result.stop_reason, result.metrics)}, "
        f"max masked weight {_number(result.max_masked_weight)}. Saved to {folder}"
    )
    return 130 if interrupted else 0


def _sweep(args) -> int:
    from limconn.training import stop_on_interrupt  # loads the Keras backend, quietly

    runs.check_name(args.workspace, "--workspace")
    sweep.check_backend(args.backend)
    designs = {}
    for path in args.design:
        stem = Path(path).stem
        if stem in designs:
            raise ValueError(
                f"Each --design needs its own file name stem, which names its run folders. "
                f"Received: {designs[stem][0]} and {path}"
            )
        designs[stem] = (path, Connectivity.load(path))
    dataset = _load_dataset(args)
    config = _config(args, args.seeds[0])
    plan = [
        sweep.SweepRun(
            design, seed, Path(args.out) / f"{stem}-seed{seed}",
            name=", ".join(filter(None, (args.name, stem, f"seed {seed}", config.strategy,
                                         dataset.name))),
        )
        for stem, (_, design) in designs.items()
        for seed in dict.fromkeys(args.seeds)
    ]
    groups = len(sweep.group_by_seed(plan))
    print(
        f"Sweeping {len(designs)} design(s) x {len(plan) // len(designs)} seed(s) "
        f"({config.strategy}) on {dataset.description}: {groups} model(s), {args.backend}"
    )
    bar = _SweepBar(plan)

    def on_result(result: sweep.SweepResult) -> None:
        bar.finished(result.run)
        line = _summary(result.status, result.stop_reason, result.metrics)
        tqdm.write(f"{result.run.folder}: {line}")

    ray = sweep.ray_connection() if args.backend == "ray" else contextlib.nullcontext()
    try:
        with ray:
            results, interrupted = stop_on_interrupt(
                lambda stop: sweep.run_sweep(
                    config, plan, dataset, backend=args.backend, workspace=args.workspace,
                    on_progress=bar, on_result=on_result, stop_event=stop,
                    max_seconds=args.max_seconds,
                ),
                on_interrupt=_say_stopping,
            )
    finally:
        bar.close()
    print(f"{len(results)} of {len(plan)} run(s) saved under {args.out}")
    return 130 if interrupted else 0


def _summary(status: str, stop_reason: str, metrics: dict) -> str:
    """`done after 2 epoch(s), best val loss 0.01` (or `stopped (why) after ...`), then the
    test loss and metric if the run has a test set."""
    best = "best_val_loss" if "best_val_loss" in metrics else "best_loss"
    test = (f", test loss {_number(metrics['test_loss'])} ({compare.test_metric_text(metrics)})"
            if "test_loss" in metrics else "")
    return (
        f"{status}{f' ({stop_reason})' if stop_reason else ''} after "
        f"{int(metrics.get('epochs_run', 0))} epoch(s), {best.replace('_', ' ')} "
        f"{_number(metrics.get(best))}{test}"
    )


def _say_stopping() -> None:
    tqdm.write(
        "Stopping after this batch; the partial runs will be saved (Ctrl-C again to abandon "
        "them).",
        file=sys.stderr,
    )


def _load_design(args, inputs: int) -> Connectivity:
    if args.input_mask is None and (args.recurrent_mask or args.output_mask):
        raise ValueError(
            "--recurrent-mask and --output-mask go with --input-mask, not with --design."
        )
    if args.design is not None:
        return Connectivity.load(args.design)
    if args.input_mask is None:
        return presets.random(inputs, **DEFAULT_DESIGN)
    return Connectivity(
        load_mask_npy(args.input_mask, "input_mask"),
        _optional_mask(args.recurrent_mask, "recurrent_mask", (2, 3)),
        _optional_mask(args.output_mask, "output_mask", (1,)),
        metadata={"name": Path(args.input_mask).stem},
    )


def _optional_mask(path: str | None, name: str, ndims: tuple[int, ...]):
    return None if path is None else load_mask_npy(path, name, ndims)


def _load_dataset(args) -> data.Dataset:
    if args.task is not None:
        return data.make_task(args.task, **_keywords(data.TASKS, args.task, args.task_param))
    suffix = Path(args.data).suffix.lower()
    if args.targets is not None and suffix != ".npy":
        raise ValueError(f"--targets goes with --data X.npy. Received: --data {args.data}")
    if suffix == ".npy":
        if args.targets is None:
            raise ValueError(
                f"--data {args.data} holds the sequences X only; give the targets y with "
                "--targets y.npy."
            )
        return data.load_npy(args.data, args.targets, kind=args.kind)
    if suffix == ".csv":
        return _load_csv(args)
    return data.load_upload(args.data, kind=args.kind)


def _load_csv(args) -> data.Dataset:
    if not args.target or args.window is None:
        raise ValueError(
            f"A CSV needs --target COLUMN and --window N. Received: --target {args.target}, "
            f"--window {args.window}. Columns of {args.data}: {data.csv_columns(args.data)}"
        )
    features = args.features or _numeric_columns(args.data, args.target)
    print(f"Features: {', '.join(features)}; targets: {', '.join(args.target)}")
    return data.load_csv(
        args.data,
        feature_columns=features,
        target_columns=args.target,
        window=args.window,
        horizon=args.horizon,
        validation_split=args.validation_split,
        missing=args.missing,
        kind=args.kind or "regression",
    )


def _numeric_columns(path: str, targets: list[str]) -> list[str]:
    """Every numeric column except the targets; the targets themselves if that leaves none
    (forecasting a series from its own past)."""
    numeric = [c for c in data.csv_columns(path, numeric_only=True) if c not in targets]
    return numeric or list(targets)


def _keywords(registry: Registry, name: str, pairs: list[str]) -> dict:
    """`KEY=VALUE` pairs, converted to the types of the parameters of `registry`'s `name`.

    Raises:
        ValueError: for a pair without `=`, a key that is not a parameter, or a bad value.
    """
    parameters = {parameter.name: parameter for parameter in registry.get(name).parameters}
    values = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or key.strip() not in parameters:
            raise ValueError(
                f"Expected KEY=VALUE with KEY a parameter of {registry.what} {name!r} "
                f"({', '.join(parameters) or 'none'}). Received: {pair!r}"
            )
        values[key.strip()] = parameters[key.strip()].coerce(value.strip())
    return values


class _ProgressBar:
    """A tqdm bar over every batch of a run, fed by `Progress` events from the training thread."""

    def __init__(self):
        self.bar: tqdm | None = None
        self.postfix: dict[str, str] = {}

    def __call__(self, event: Progress) -> None:
        if self.bar is None:
            self.bar = tqdm(total=event.epochs * event.steps_per_epoch, unit="batch")
        self.bar.set_description(f"epoch {event.epoch}/{event.epochs}", refresh=False)
        for key in ("loss", "val_loss"):
            if key in event.logs:
                self.postfix[key] = f"{event.logs[key]:.4g}"
        self.bar.set_postfix(self.postfix, refresh=False)
        self.bar.update(round(event.fraction * self.bar.total) - self.bar.n)
        if event.kind == "epoch":
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _SweepBar:
    """A tqdm bar over the runs of a sweep; a run counts as the share of its batches done
    (Ray tasks report only when they end)."""

    def __init__(self, plan: list[sweep.SweepRun]):
        self.bar = tqdm(total=len(plan), unit="run", bar_format=(
            "{l_bar}{bar}| {n:.1f}/{total} runs [{elapsed}<{remaining}{postfix}]"
        ))
        self.done = dict.fromkeys((run.folder for run in plan), 0.0)

    def __call__(self, run: sweep.SweepRun, event: Progress) -> None:
        self.done[run.folder] = event.fraction
        if event.branch == 0:
            self.bar.set_postfix_str(f"seed {event.seed}, epoch {event.epoch}/{event.epochs}",
                                     refresh=False)
        self._update()

    def finished(self, run: sweep.SweepRun) -> None:
        self.done[run.folder] = 1.0
        self._update()

    def _update(self) -> None:
        self.bar.n = round(sum(self.done.values()), 2)
        self.bar.update(0)  # redraws at most every `mininterval`

    def close(self) -> None:
        self.bar.close()


# --------------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------------


def _add_runs_parser(commands) -> None:
    parser = commands.add_parser(
        "runs", help="list, export, delete, rename, tag or annotate saved runs")
    actions = parser.add_subparsers(metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the runs, newest first")
    listing.add_argument("--workspace", help="only this workspace (default: all)")
    listing.add_argument(
        "--group", action="store_true",
        help="one row per group of runs that differ only by seed: n, seeds, mean ± std of the "
        "best and final validation loss (as Compare's grouped table)",
    )
    listing.add_argument("--tag", action="append", default=[], metavar="TAG",
                         help="only runs with this tag (repeat: with all of them)")
    listing.set_defaults(command=_list_runs, parser=listing)
    export = actions.add_parser("export", help="write a run as a .zip")
    export.add_argument("run_id", metavar="RUN_ID")
    export.add_argument("--out", required=True, help="the .zip file to write")
    export.add_argument("--workspace", default="default")
    export.set_defaults(command=_export_run, parser=export)
    delete = actions.add_parser("delete", help="delete a run")
    delete.add_argument("run_id", metavar="RUN_ID")
    delete.add_argument("--workspace", default="default")
    delete.set_defaults(command=_delete_run, parser=delete)
    rename = actions.add_parser("rename", help="give a run a new display name")
    rename.add_argument("run_id", metavar="RUN_ID")
    rename.add_argument("name", metavar="NAME")
    tag = actions.add_parser(
        "tag", help="set a run's tags, replacing its old ones (none: clear them)")
    tag.add_argument("run_id", metavar="RUN_ID")
    tag.add_argument("tags", nargs="*", metavar="TAG")
    note = actions.add_parser("note", help="set a run's note ('' removes it)")
    note.add_argument("run_id", metavar="RUN_ID")
    note.add_argument("note", metavar="TEXT")
    for action, change in ((rename, "name"), (tag, "tags"), (note, "note")):
        action.add_argument("--workspace", default="default")
        action.set_defaults(command=_change_run, change=change, parser=action)


def _list_runs(args) -> int:
    store = runs.RunStore()
    infos = compare.with_tags(store.list(args.workspace), args.tag)
    for path, message in store.problems:
        print(f"limconn: skipped {path}: {message}", file=sys.stderr)
    if not infos:
        where = f" (workspace {args.workspace})" if args.workspace else ""
        print(f"No runs in {store.root}{where}.")
        return 0
    import pandas as pd  # loaded only to print the table

    if args.group:
        print(pd.DataFrame(_group_rows(store, infos)).to_string(index=False))
        return 0
    table = pd.DataFrame(
        {
            "id": info.id,
            "workspace": info.workspace,
            "name": info.name,
            "status": info.status,
            "strategy": info.strategy,
            "dataset": info.dataset,
            "best val loss": _number(info.best_val_loss),
            "test loss": _number(info.metrics.get("test_loss")),
            "test metric": compare.test_metric_text(info.metrics) or "-",
            "epochs": info.epochs,
            "tags": ",".join(info.tags),
            "created": info.created,
        }
        for info in infos
    )
    print(table.to_string(index=False))
    return 0


def _group_rows(store: runs.RunStore, infos) -> list[dict]:
    """`limconn.compare.group_table` of the readable runs."""
    loaded = []
    for info in infos:
        try:
            loaded.append(store.load(info.id, info.workspace))
        except ValueError as error:
            print(f"limconn: skipped {info.path}: {_one_line(error)}", file=sys.stderr)
    return compare.group_table(compare.group_runs(loaded))


def _export_run(args) -> int:
    Path(args.out).write_bytes(runs.RunStore().export_zip(args.run_id, args.workspace))
    print(f"Wrote {args.out}")
    return 0


def _delete_run(args) -> int:
    runs.RunStore().delete(args.run_id, args.workspace)
    print(f"Deleted run {args.run_id} from workspace {args.workspace}.")
    return 0


def _change_run(args) -> int:
    """`runs rename`, `runs tag`, `runs note`: one field of `run.json`, then the run's line."""
    info = runs.RunStore().edit(args.run_id, args.workspace,
                                **{args.change: getattr(args, args.change)})
    tags = ", ".join(info.tags) or "none"
    print(f"Run {info.id}: name {info.name!r}, tags {tags}, note {info.note!r}")
    return 0


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


def _add_evaluate_parser(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="a trained run's loss and metric on other data",
        description="Evaluates a run on a task or a data file of the run's kind, features "
        "and outputs, with any number of steps (a run trained on 100 steps is judged on 200): "
        "the loss and the metric it trained with, over every sample, weighted per step as in "
        "training. A CSV is used whole, not split.",
    )
    parser.add_argument(
        "--run", required=True, metavar="DIR", help="a run folder (from `train --out`, the store)"
    )
    _add_data_options(parser)
    parser.add_argument("--out", metavar="FILE", help="also write the result as JSON here")
    parser.set_defaults(command=_evaluate, parser=parser, validation_split=0.0)


def _evaluate(args) -> int:
    result = evaluation.evaluate(args.run, _load_dataset(args))  # loads Keras, quietly
    metric = result["metric_name"]
    print(
        f"{result['name']} on {result['description']} ({result['samples']} samples x "
        f"{result['timesteps']} steps): {result['loss_name']} {result['loss']:.6g}, "
        f"{metric} {result[metric]:.6g}"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"Wrote {args.out}")
    return 0


# --------------------------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------------------------


def _add_analyze_parser(commands) -> None:
    parser = commands.add_parser(
        "analyze",
        help="trajectories, spectra, fixed points, lesions and attributions of a run",
        description="Analyses what a trained run computes on a task or a data file of its "
        "kind, features and outputs (limconn.analysis): hidden-state trajectories and their "
        "principal components, eigenvalues of each gate's recurrent weight, fixed points "
        "under zero input, the loss change from silencing each unit, and integrated-gradient "
        "attributions. Writes analysis.json (the summary) and analysis.npz (the arrays) in "
        "--out.",
    )
    parser.add_argument(
        "--run", required=True, metavar="DIR", help="a run folder (from `train --out`, the store)"
    )
    _add_data_options(parser)
    parser.add_argument(
        "--what", nargs="+", choices=analysis.ANALYSES, default=list(analysis.ANALYSES),
        metavar="NAME",
        help=f"the analyses to run (default: all of {', '.join(analysis.ANALYSES)})",
    )
    parser.add_argument(
        "--samples", type=int, default=256, metavar="N",
        help="analyse the data's first N sequences (default: %(default)s)",
    )
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the folder to write analysis.json and analysis.npz in")
    parser.set_defaults(command=_analyze, parser=parser, validation_split=0.0)


def _analyze(args) -> int:
    run = runs.read_run_folder(args.run)
    dataset = _load_dataset(args)
    with tqdm(total=len(args.what), unit="analysis") as bar:
        def on_progress(done: int, total: int, label: str) -> None:
            bar.total = total
            bar.set_description(label, refresh=False)
            bar.update(done - bar.n)

        found = analysis.analyze(run, dataset, args.what, on_progress, samples=args.samples)
    analysis.save(args.out, found)
    print(_analysis_line(found.summary))
    print(f"Wrote {Path(args.out) / analysis.SUMMARY_FILE} and "
          f"{Path(args.out) / analysis.ARRAYS_FILE}")
    return 0


def _analysis_line(summary: dict) -> str:
    """The summary's headline numbers, on one line."""
    parts = [f"{summary['run_name']} on {summary['dataset']} ({summary['samples']} sequences)"]
    if summary["test_loss"] is not None:
        parts.append(f"{summary['loss_name']} {summary['test_loss']:.4g}")
    if summary["fixed_points"] is not None:
        points = summary["fixed_points"]
        parts.append(f"fixed points {points['found']} ({points['stable']} stable)")
    if summary["spectral_radius"] is not None:
        radii = " ".join(f"{gate} {radius:.3g}"
                         for gate, radius in summary["spectral_radius"].items())
        parts.append(f"spectral radius {radii}")
    if summary["top_lesions"] is not None:
        top = ", ".join(f"unit {row['unit']} {row['delta_loss']:+.3g}"
                        for row in summary["top_lesions"])
        parts.append(f"top lesions {top}")
    if summary["attribution_completeness_error"] is not None:
        parts.append(f"completeness error {summary['attribution_completeness_error']:.2g}")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------


def _add_export_parser(commands) -> None:
    parser = commands.add_parser(
        "export",
        help="write a trained run's model for another framework",
        description="Writes a run's LSTM and readout as a PyTorch state dict in a "
        ".safetensors file, for nn.LSTM(batch_first=True) as `lstm` and nn.Linear as "
        "`readout`, with the masks as mask.* and notes in the header (torch is not needed "
        "to write it). The timestep strategy is refused: nn.LSTM cannot skip time steps.",
    )
    parser.add_argument(
        "--run", required=True, metavar="DIR", help="a run folder (from `train --out`, the store)"
    )
    parser.add_argument(
        "--format", choices=EXPORT_FORMATS, default="torch", help="(default: %(default)s)"
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="the .safetensors to write")
    parser.set_defaults(command=_export_model, parser=parser)


def _export_model(args) -> int:
    run = runs.read_run_folder(args.run)
    from limconn import export

    export.write_torch_safetensors(run, args.out)
    design = run.connectivity
    print(
        f"Wrote {args.out}: nn.LSTM({design.input_dim}, {design.units}, batch_first=True) and "
        f"its nn.Linear readout, from the {run.info.strategy} run {run.info.name!r}."
    )
    return 0


# --------------------------------------------------------------------------------------------
# prune
# --------------------------------------------------------------------------------------------


def _add_prune_parser(commands) -> None:
    parser = commands.add_parser(
        "prune",
        help="make a design of a trained run's strongest connections",
        description="Keeps the share --keep of a run's live connections with the largest "
        "trained |weight| (summed over the gates, or per gate with --per-gate), in the input "
        "and the recurrent matrix each, and saves the design (limconn.pruning.strongest). "
        "--random-control also writes a random design with as many connections.",
    )
    parser.add_argument(
        "--run", required=True, metavar="DIR", help="a run folder (from `train --out`, the store)"
    )
    parser.add_argument(
        "--keep", type=float, required=True, metavar="F",
        help="share of each matrix's live connections to keep, in (0, 1]",
    )
    parser.add_argument("--per-gate", action="store_true", help="rank each gate on its own")
    parser.add_argument("--out", required=True, metavar="FILE", help="the design .npz to write")
    parser.add_argument(
        "--random-control", metavar="FILE",
        help="also write a random design with as many connections per matrix (and gate)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S",
        help="with --random-control: its random seed (default: %(default)s)",
    )
    parser.set_defaults(command=_prune, parser=parser)


def _prune(args) -> int:
    pruned = pruning.strongest(runs.read_run_folder(args.run), args.keep, per_gate=args.per_gate)
    _write_design(pruned, args.out, None)
    if args.random_control:
        _write_design(pruning.random_like(pruned, seed=args.seed), args.random_control, None)
    return 0


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror}: {error.filename}"
    return " ".join(str(error).split())
