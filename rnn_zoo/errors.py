"""The one exception type users see: a bad input, described in one sentence."""


class ZooError(Exception):
    """Bad input or a damaged zoo; the message names the input and what would fix it."""


def first_line(error: BaseException, *, with_type: bool = True) -> str:
    """``Type: message`` of an exception, the message cut to its first line (the type alone if it
    has none); ``with_type=False`` leaves the type out (huggingface_hub's errors name themselves).
    A ``SystemExit`` says that the code exited."""
    if isinstance(error, SystemExit):
        return f"it called sys.exit({error.code!r})"
    text = str(error).strip().splitlines()
    if not text:
        return type(error).__name__
    return f"{type(error).__name__}: {text[0]}" if with_type else text[0]
