"""Studies: a grid of pretraining runs given as data (``configs/studies/*.py``), evaluated and reported.

Modules, each with one job and no import cycles: ``types`` (records), ``paths`` (where runs live), ``loader``
(config -> study), ``evaluation`` (the mcr-eval commands of one encoder), ``lr_selection`` (rates chosen on a
validation split), ``timing`` and ``preamble`` (what a report states about itself), ``curves`` (compact training
logs), ``runner`` (train, evaluate, report). The command is ``mcr-eval study`` (``mcr_eval.commands.study``).
"""
