"""The counter-argument experiment: claims as paired scenario comparisons, judged with verdicts.

Modules: ``claims`` (the experiment file), ``verdicts`` (each test's effect and finding),
``summary`` (the outcome as Markdown), ``page`` (the HTML page) and ``run`` (the whole command).
"""
