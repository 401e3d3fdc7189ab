"""Shared test setup."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A bare ``pytest`` (unlike ``python -m pytest``) does not put the repository root on sys.path,
# so without this the suite would only run against an installed copy.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
