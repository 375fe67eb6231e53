"""The RADIUS dictionary: FreeRADIUS-format files shipped in dictionaries/radius (RFC 2865, 2866, 2869, 3162,
5176 attributes; Mikrotik 14988 as numbered by FreeRADIUS v3.2; WISPr 14122), read by pyrad."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pyrad.dictionary import Dictionary

from ocs.config import find_data_dir


def default_dictionary_file() -> Path:
    found = find_data_dir("dictionaries/radius")
    if found is None:
        raise FileNotFoundError("dictionaries/radius: not found beside the checkout nor under <prefix>/share/ocsd")
    return found / "dictionary"


@lru_cache(maxsize=4)
def load_dictionary(path: str | None = None) -> Dictionary:
    return Dictionary(str(path or default_dictionary_file()))


__all__ = ["default_dictionary_file", "load_dictionary"]
