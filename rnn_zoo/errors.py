"""The one exception type users see: a bad input, described in one sentence."""


class ZooError(Exception):
    """Bad input or a damaged zoo; the message names the input and what would fix it."""
