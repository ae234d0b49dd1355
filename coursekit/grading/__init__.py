"""Graded checks of the course's exercises.

One module per assignment (:mod:`~coursekit.grading.data`, :mod:`~coursekit.grading.unet`,
:mod:`~coursekit.grading.evaluation`, :mod:`~coursekit.grading.hallucination`,
:mod:`~coursekit.grading.transfer`), each with
check functions and a ``CHECKS`` table of their points (``scripts/nbgrader_metadata.py`` copies
them into the notebooks' nbgrader metadata). A notebook keeps a :class:`Scoreboard`::

    from coursekit.grading import Scoreboard, evaluation
    board = Scoreboard(evaluation.CHECKS)
    board.check("pearson", pearson)   # raises CheckFailed with a message, or prints PASSED
    board.summary()                   # the score so far

Checks draw their own inputs, so a hard-coded answer, or a function that only works on the
notebook's example, fails.
"""

from coursekit.grading._core import Check, CheckFailed, Scoreboard

__all__ = ["Check", "CheckFailed", "Scoreboard"]
