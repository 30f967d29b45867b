#!/usr/bin/env python3
"""Container health check: exit 0 when URL answers 2xx within the timeout, 1 otherwise.

media-gateway-healthcheck URL [TIMEOUT_SECONDS]
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: media-gateway-healthcheck URL [TIMEOUT_SECONDS]", file=sys.stderr)
        return 2
    url = argv[0]
    timeout = float(argv[1]) if len(argv) > 1 else 3.0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        return 0
    print(f"unhealthy: {url} answered {status}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
