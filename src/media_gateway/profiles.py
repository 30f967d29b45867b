"""Moved to ``media_gateway.auth.profiles``; this name stays importable while callers move."""

import sys

from media_gateway.auth import profiles as _moved
from media_gateway.auth.profiles import DEFAULT_PROFILE as DEFAULT_PROFILE
from media_gateway.auth.profiles import PROFILE_ID_LENGTH as PROFILE_ID_LENGTH
from media_gateway.auth.profiles import event_profile as event_profile
from media_gateway.auth.profiles import profile_of as profile_of

sys.modules[__name__] = _moved
