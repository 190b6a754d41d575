"""The `dexnet` command: one subcommand per job, each implemented in its own module.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int`` and is imported only when
its subcommand runs, so `dexnet --help` stays fast and optional dependencies load only when needed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dexnet_core.errors import DexnetError

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("dexnet_core.train.command", "train a GQ-CNN from a YAML config (reference keys accepted)"),
    "eval": ("dexnet_core.train.eval_command", "evaluate a checkpoint on a dataset: metrics and PR curve"),
    "convert": ("dexnet_core.models.convert_command", "convert a GQ-CNN checkpoint to an FC-GQ-CNN"),
    "export": ("dexnet_core.models.export_command", "export a checkpoint to ONNX (crops or heatmap graph)"),
    "models": ("dexnet_core.models.models_command", "list the registered architectures and shipped models"),
    "synth": ("dexnet_core.synth.command", "synthesize a Dex-Net-format dataset from meshes"),
    "plan": ("dexnet_core.planning.command", "plan grasps on a depth image: grasps JSON and overlay PNG"),
    "sim": ("dexnet_core.sim.command", "closed-loop grasp benchmark in simulation"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Build the top-level parser; only the subcommand named in ``argv`` loads its arguments."""
    parser = argparse.ArgumentParser(prog="dexnet", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `dexnet`; returns the exit status (errors print one line and return non-zero)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)
    except KeyboardInterrupt:
        print("dexnet: interrupted", file=sys.stderr)
        return 130
    except (DexnetError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"dexnet {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
