"""A user name as it is stored and looked up: Unicode NFKC, without spaces around it.

Names that look alike are one name: the ligature ``ﬀoo`` is ``ffoo``, a composed ``é`` is the
decomposed one, a full-width ``ａｌｉｃｅ`` is ``alice``. Every way in (the CLI's user commands,
the login form, the API's Basic credentials) goes through ``normalized_username``, and the
stored names are normalised (migration 0012). Case is kept, as it always was: ``Alice`` and
``alice`` are two users (the login throttle counts their attempts together).
"""

from __future__ import annotations

import unicodedata

NORMAL_FORM = "NFKC"


def normalized_username(username: str) -> str:
    return unicodedata.normalize(NORMAL_FORM, username).strip()
