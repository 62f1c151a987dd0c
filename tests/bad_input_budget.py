"""How many generated examples the bad-input properties try (tests/test_bad_input_*.py).

The counts in the tests are sized for CI on two cores; VETORIAL_HYPOTHESIS_SCALE multiplies
them (e.g. 20 for a long hunt before a release: `VETORIAL_HYPOTHESIS_SCALE=20 pytest -k bad_input`).
"""

from __future__ import annotations

import os


def examples(n: int) -> int:
    return max(1, round(n * float(os.environ.get("VETORIAL_HYPOTHESIS_SCALE", "1"))))
