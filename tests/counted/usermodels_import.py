"""A module that misbehaves at import, as $NETCOST_TEST_MISBEHAVE says (see usermodels)."""

import os

from tests.counted.usermodels import Tiny, misbehave

misbehave(os.environ.get("NETCOST_TEST_MISBEHAVE", ""))


def tiny():
    return Tiny()
