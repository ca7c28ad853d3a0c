"""`python -m evals …` = `dealeros eval …`."""

from evals.cli import eval_cli

eval_cli()
