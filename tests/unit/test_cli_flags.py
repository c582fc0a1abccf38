"""One name for one thing across commands: `--kelurahan` names a kelurahan everywhere (the
demo's count is `--kelurahan-count`), the PKI folder is `--pki-dir` everywhere (the older
`--dir` and `--pki` still work)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from pantau.shared.cli import COMMANDS


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"pantau {command}")
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    return parser


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every visible option of a parser and of its subcommands, by option string."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
        elif action.help != argparse.SUPPRESS:
            found |= dict.fromkeys(action.option_strings, action)
    return found


def test_kelurahan_names_one_kelurahan_in_every_command() -> None:
    for command in COMMANDS:
        options = _options(_parser(command))
        action = options.get("--kelurahan")
        assert action is None or action.type in (None, str), command


def test_the_demo_counts_kelurahan_with_kelurahan_count() -> None:
    parser = _parser("demo")
    assert parser.parse_args(["--kelurahan-count", "2"]).kelurahan_count == 2
    assert parser.parse_args([]).kelurahan_count == 43
    old = parser.parse_args(["--kelurahan", "3"])  # the old spelling, still understood
    assert old.kelurahan_count_old == 3
    assert "--kelurahan-count" in parser.format_help()
    assert "--kelurahan " not in parser.format_help()


def test_the_demo_reads_the_old_spelling_as_the_count() -> None:
    from pantau.collector.lab.demo.run import kelurahan_count

    parser = _parser("demo")
    assert kelurahan_count(parser.parse_args(["--kelurahan", "3"])) == (3, True)
    assert kelurahan_count(parser.parse_args(["--kelurahan-count", "4"])) == (4, False)


@pytest.mark.parametrize(
    ("argv", "dest"),
    [
        (["pki", "issue", "cit-01"], "dir"),
        (["pki", "init"], "dir"),
        (["pki", "revoke", "cit-01"], "dir"),
        (["pki", "list"], "dir"),
        (["broker", "config", "--registry", "r.yaml", "--out", "o"], "dir"),
        (["deploy", "inventory", "--registry", "r.yaml", "--out", "o.yml"], "pki"),
    ],
)
@pytest.mark.parametrize("option", ["--pki-dir", "older"])
def test_the_pki_folder_is_pki_dir_in_every_command(
    argv: list[str], dest: str, option: str
) -> None:
    older = "--pki" if argv[0] == "deploy" else "--dir"
    parser = _parser(argv[0])
    args = parser.parse_args([*argv[1:], option if option != "older" else older, "/srv/pki"])
    assert getattr(args, dest) == Path("/srv/pki")


def test_every_pki_folder_option_is_spelt_pki_dir() -> None:
    for command in ("pki", "broker", "deploy"):
        options = _options(_parser(command))
        folders = {o for o, a in options.items() if a.dest in ("dir", "pki")}
        assert "--pki-dir" in folders, command
