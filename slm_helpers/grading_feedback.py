"""nbgrader feedback preprocessor: never show hidden-test code or messages to students.

``ClearHiddenTests`` removes the hidden-test source from feedback, but a failing hidden
test would still show up in the cell's error output (its traceback quotes the code). This
keeps a failing *visible* check's message (the learner can see that check anyway) and
replaces everything else with a neutral line.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
CHECK_LABEL = re.compile(r"✗ (.+)")
HIDDEN_MESSAGE = "A hidden test failed: this exercise is not fully correct yet."
KNOWN = {
    "CellTimeoutError": "The cell ran past the time limit and was stopped (an infinite loop?).",
    "KeyboardInterrupt": "The cell ran past the time limit and was stopped (an infinite loop?).",
    "MemoryError": "The code used more memory than grading allows and was stopped.",
}


def _visible_name_error(output, visible: str) -> bool:
    """A NameError about a name the visible checks use (e.g. an undefined solution function)."""
    if output.get("ename") != "NameError":
        return False
    name = re.search(r"name '([^']+)'", output.get("evalue", ""))
    return bool(name) and re.search(rf"\b{re.escape(name.group(1))}\b", visible) is not None


class HideHiddenTestErrors(Preprocessor):
    """Sanitize error outputs of graded cells."""

    # nbconvert preprocessors are off unless enabled; nbgrader registers this one as a class.
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            return cell, resources
        visible = HIDDEN_REGION.sub("", cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            label = CHECK_LABEL.search(output.get("evalue", ""))
            if output.get("ename") == "ExerciseCheckError" and label and label.group(1).strip() in visible:
                message = output["evalue"]
            elif output.get("ename") in ("NotImplementedError", "NameError") and "HIDDEN" not in output.get(
                "evalue", ""
            ):
                message = f"{output['ename']}: {output['evalue']}"
            else:
                message = HIDDEN_MESSAGE
            output["evalue"] = message
            output["traceback"] = [f"{output.get('ename')}: {message}"]
        return cell, resources
