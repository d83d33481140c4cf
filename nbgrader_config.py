"""nbgrader configuration for instructors working from the repository root.

`make course` (or `slm-course release`) fills build/course/source/lesson-NN/ from
notebooks/; after that the plain nbgrader commands work from here, e.g.
`nbgrader generate_assignment lesson-01`, `nbgrader autograde lesson-01`,
`nbgrader generate_feedback lesson-01`, `nbgrader export`. See docs/instructors.md.
"""

from slm_helpers.grading import configure

c = get_config()  # noqa: F821 - provided by nbgrader
configure(c, root="build/course")
