"""Every console entry point prints its help (catches broken help strings in any subcommand)."""

import pytest

from mcr_eval.cli import build_parser as eval_parser
from mcr_train.data.cli import build_parser as data_parser


@pytest.mark.parametrize("build", [eval_parser, data_parser])
def test_help_of_every_subcommand(build, capsys):
    parser = build()
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--help"])
    assert exc.value.code == 0
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, cmd in sub.choices.items():
        assert cmd.format_help().startswith("usage:"), name
    assert "usage:" in capsys.readouterr().out
