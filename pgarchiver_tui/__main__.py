from pgarchiver_tui.console import console

raise SystemExit(console())
