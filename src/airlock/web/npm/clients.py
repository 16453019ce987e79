"""Which client sent a request, and error texts that name that client's commands.

Services write their advice in npm's words (`npm login`, `npm stage approve <id>`): npm is
the reference client and every other client can be told apart by its user-agent
(`npm/11.19.1 node/...`, `pnpm/12.23.0 ...`, `yarn/4.18.1 npm/? node/...`). This helper,
called once by the error handler, rewrites those commands for pnpm and yarn users:

- pnpm mirrors npm's command names (`pnpm login`, `pnpm stage approve`, `pnpm profile ...`),
  except `trust`, which it lacks: that one keeps npm's name.
- yarn has its own names for a few (`yarn npm login`, `yarn npm publish --staged`,
  `yarn npm stage approve`); the rest (profile, token, access, owner, trust, ...) have no
  yarn command, so the advice stays `npm ...`, which works against the same registry.

A request from an unknown client keeps npm's wording with the pnpm and yarn forms added
in brackets when they differ, so the advice is right whichever client it was.
"""

from __future__ import annotations

import enum
import re


class Client(enum.StrEnum):
    NPM = "npm"
    PNPM = "pnpm"
    YARN = "yarn"
    OTHER = "other"


def client_of(user_agent: str | None) -> Client:
    """From the first product token of the user-agent (yarn also names npm later on)."""
    first = (user_agent or "").strip().split("/", 1)[0].lower()
    for client in (Client.PNPM, Client.YARN, Client.NPM):
        if first == client.value:
            return client
    return Client.OTHER


# An npm command quoted in a message: `npm ...` in backticks, or "(npm ...)".
_QUOTED = re.compile(r"(?P<open>[`(])npm (?P<args>[a-z][^`()]*)(?P<close>[`)])")

# pnpm has every npm command the messages mention except these.
_PNPM_LACKS = frozenset({"trust"})

# npm command prefix -> yarn command prefix (the rest of the arguments is kept).
_YARN = (
    ("stage publish", "npm publish --staged"),
    ("stage approve", "npm stage approve"),
    ("stage reject", "npm stage reject"),
    ("stage list", "npm stage list"),
    ("login", "npm login"),
    ("publish", "npm publish"),
    ("whoami", "npm whoami"),
)


def command_for(client: Client, args: str) -> str:
    """`npm <args>` as `client` spells it (npm's own form when it has no equivalent)."""
    words = args.split()
    if client is Client.PNPM and words and words[0] not in _PNPM_LACKS:
        return f"pnpm {_without_npm_only_flags(args)}"
    if client is Client.YARN:
        for npm_prefix, yarn_prefix in _YARN:
            if args == npm_prefix or args.startswith(npm_prefix + " "):
                rest = _without_npm_only_flags(args[len(npm_prefix) :]).strip()
                return f"yarn {yarn_prefix}{' ' + rest if rest else ''}"
    return f"npm {args}"


def _without_npm_only_flags(args: str) -> str:
    # `--auth-type` is npm's switch between web and couch login; the others have no such flag.
    return re.sub(r"\s*--auth-type=\S+", "", args)


def localise(message: str, user_agent: str | None) -> str:
    """`message` with every quoted npm command in the requesting client's words."""
    client = client_of(user_agent)
    if client is Client.NPM:
        return message

    def swap(match: re.Match[str]) -> str:
        args = match["args"].rstrip()
        if client is Client.OTHER:
            forms = [command_for(Client.PNPM, args), command_for(Client.YARN, args)]
            extra = [f for f in dict.fromkeys(forms) if f != f"npm {args}"]
            text = f"npm {args}" + (f"`, `{'`, `'.join(extra)}" if extra else "")
            if match["open"] == "(":
                text = text.replace("`", "")
            return f"{match['open']}{text}{match['close']}"
        return f"{match['open']}{command_for(client, args)}{match['close']}"

    return _QUOTED.sub(swap, message)
