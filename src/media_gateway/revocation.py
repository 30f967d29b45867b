"""Moved to ``media_gateway.auth.revocation``; this name stays importable while callers move."""

import sys

from media_gateway.auth import revocation as _moved
from media_gateway.auth.revocation import REVOKED_MESSAGE as REVOKED_MESSAGE
from media_gateway.auth.revocation import UNCHECKABLE_MESSAGE as UNCHECKABLE_MESSAGE
from media_gateway.auth.revocation import Revocation as Revocation
from media_gateway.auth.revocation import RevokedSessions as RevokedSessions
from media_gateway.auth.revocation import close as close
from media_gateway.auth.revocation import install as install
from media_gateway.auth.revocation import revoked_sessions as revoked_sessions

sys.modules[__name__] = _moved
