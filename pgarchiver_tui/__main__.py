from pgarchiver_tui.cli import main

raise SystemExit(main())
