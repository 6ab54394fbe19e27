"""labgrid's exporter, also exporting Speck devkits: ``python -m hil.lab.labgrid.exporter``.

Takes labgrid-exporter's options and configuration file. A ``SpeckDevkit`` entry exports the
devkit with that serial from this host; labgrid's coordinator shows it available while it is
attached, and clients see the exporting host (``host``) beside its serial and type.
"""

from __future__ import annotations

import attr
from labgrid.remote import exporter

from hil.lab.labgrid.place import RESOURCE_CLASS, SpeckDevkit


@attr.s(eq=False)
class SpeckDevkitExport(exporter.ResourceExport):
    """A Speck devkit on the exporter's host, available while it is attached."""

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.local = SpeckDevkit(target=None, name=None, **self.local_params)

    def _get_params(self):
        return {"host": self.host, **self.local_params}


exporter.exports[RESOURCE_CLASS] = SpeckDevkitExport

if __name__ == "__main__":
    exporter.main()
