from guiagent.cli.main import main

raise SystemExit(main())
