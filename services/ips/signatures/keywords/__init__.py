"""One module per keyword family; importing this package fills ``base.KEYWORDS``."""

from services.ips.signatures.keywords import (  # noqa: F401
    alerting,
    app_layer,
    bsize,
    byte,
    content,
    dsize,
    fast_pattern,
    flags,
    flow,
    flowbits,
    isdataat,
    meta,
    packet,
    pcre,
    stream_size,
    sticky,
    threshold,
    transforms,
)
from services.ips.signatures.keywords.base import KEYWORDS, Arg, keyword

__all__ = ["KEYWORDS", "Arg", "keyword"]
