from seat_manager.cli import main

raise SystemExit(main())
