"""``python -m services.cli``: the ``ledger`` command."""

from services.cli import main

raise SystemExit(main())
