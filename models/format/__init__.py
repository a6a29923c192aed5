"""The `.nam` format: reading, validation and writing, as the C++ runtime reads files.

Modules, in dependency order:

- ``errors``: NamFileError (refused), NamWarning (played, with a remark), JSON paths.
- ``limits``: resource limits checked before anything large is allocated.
- ``jsontext``: JSON text -> Python values.
- ``activations``: activation names and parameters as a file states them.
- ``schema``: one config reader per architecture.
- ``layout``: weight-stream layouts computed from a config.
- ``model``: NamModel, the parsed model (its layout computed once).
- ``rules``: cross-field rules, one module per concern.
- ``parse``: a decoded document -> NamModel.
- ``io``: read_nam / write_nam.
"""

from namcheck.models.format.errors import NamFileError, NamWarning
from namcheck.models.format.io import read_nam, read_nam_bytes, write_nam
from namcheck.models.format.model import NamModel, Submodel
from namcheck.models.format.parse import parse_nam

__all__ = [
    "NamFileError",
    "NamModel",
    "NamWarning",
    "Submodel",
    "parse_nam",
    "read_nam",
    "read_nam_bytes",
    "write_nam",
]
