"""``run.py explore``: a Mesa SolaraViz page to play a scenario month by month.

Three small modules, one job each: :mod:`cli.explorer.model` (a scenario and its market
baseline stepped together, built from the levers), :mod:`cli.explorer.figures` (the
matplotlib figures, scenario against baseline) and :mod:`cli.explorer.app` (the SolaraViz page
the solara server loads). Only ``app`` imports solara; the other two are plain Python and are
tested without a browser.
"""
