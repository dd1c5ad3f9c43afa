"""``python -m erpdata``: the same as the ``erpdata`` command."""

from erpdata.cli import main

raise SystemExit(main())
