"""`make token`: an admin token signed with JWT_SECRET (the dev default when unset), for curl and scripts.

python -m chalicelib.local.token [--user NAME] [--apps a,b] [--hours 24]   # an admin token unless --apps
"""

from __future__ import annotations

import argparse

from chalicelib.auth import ADMIN_ROLE, issue_dev_token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--apps", default="", help="application names this user manages (then not an admin)")
    parser.add_argument("--hours", type=int, default=24)
    args = parser.parse_args(argv)
    apps = [name for name in args.apps.split(",") if name]
    roles = [] if apps else [ADMIN_ROLE]
    print(issue_dev_token(args.user, roles=roles, apps=apps, ttl_seconds=args.hours * 3600))


if __name__ == "__main__":
    main()
