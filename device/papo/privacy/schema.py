"""Write the export's JSON schema: `python -m papo.privacy.schema docs/export-schema.json` (or print it)."""

from __future__ import annotations

import sys
from pathlib import Path

from papo.privacy.export import export_schema


def main(argv: list[str]) -> int:
    """Write the schema to the file named in `argv` (stdout when none)."""
    if not argv:
        sys.stdout.write(export_schema())
        return 0
    Path(argv[0]).write_text(export_schema(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
