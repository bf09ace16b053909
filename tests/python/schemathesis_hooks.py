"""Schemathesis hooks for scripts/schemathesis (SCHEMATHESIS_HOOKS=schemathesis_hooks).

The engine downloads every movie URL it accepts. Schemathesis generates URLs
with arbitrary hosts, so before each request the host of a body's `url` is
replaced by 127.0.0.1:9. The engine runs with allow_private_networks = false
and refuses that address without connecting: no test request ever makes the
engine reach beyond the machine. Everything after the host is kept, so
over-long or malformed URLs stay what schemathesis made them.
"""

import re

import schemathesis

# What the engine could fetch: "http://" or "https://" (in any case, as the
# engine takes it) followed by an authority that ends at the first "/", "?"
# or "#".
_URL = re.compile(r"^(https?://)([^/?#]*)(.*)$", re.DOTALL | re.IGNORECASE)
_LOOPBACK = "127.0.0.1:9"


def loopback(value):
    """Returns value with its host replaced when it is an http(s) URL."""
    if not isinstance(value, str):
        return value
    match = _URL.match(value)
    if match is None:
        return value
    return match.group(1) + _LOOPBACK + match.group(3)


@schemathesis.hook
def before_call(context, case, kwargs):
    """Points the movie URL of a request body at the loopback address."""
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = loopback(case.body["url"])
