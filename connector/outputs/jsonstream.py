"""A run's ``--json`` document written as a stream: the long lists (the out-of-scope rows
of a national roster, the actions of a provisioning run) item by item, through json's
C encoder, never held as dicts and as text at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TextIO

from connector.core.results import Encoded


def write_json(document: dict[str, object], out: TextIO) -> None:
    """One JSON document on stdout, streamed: the long lists come as iterators and are
    written item by item (one compact line each, through json's C encoder), so a
    100,000-row run is never held as dicts and as text at once."""
    encode = item_encoder()
    parts: list[str] = ["{"]
    for index, (key, value) in enumerate(document.items()):
        parts.append(("," if index else "") + "\n  " + json.dumps(key) + ": ")
        if isinstance(value, Encoded):  # a whole list, encoded already
            parts.append("[\n    " + value + "\n  ]" if value else "[]")
        elif isinstance(value, Iterator):
            parts.append("[")
            count = 0
            for item in value:
                parts.append(("," if count else "") + "\n    " + encode(item))
                count += 1
                if len(parts) >= 4096:
                    out.write("".join(parts))
                    parts.clear()
            parts.append("\n  ]" if count else "]")
        else:
            parts.append(json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  "))
    parts.append("\n}\n")
    out.write("".join(parts))
    out.flush()


def item_encoder() -> Callable[[object], str]:
    """One compact JSON text per item, from an encoder made once: ``json.dumps`` with
    any option builds a new encoder per call, which costs 4x the encoding itself."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    base = json.JSONEncoder(ensure_ascii=False)
    if make is None:  # no C speedups in this interpreter
        return base.encode
    # the arguments JSONEncoder.iterencode gives it for ensure_ascii=False, no indent
    fast = make(None, base.default, encoder.encode_basestring, None, ": ", ", ",
                False, False, True)
    return lambda item: "".join(fast(item, 0))
