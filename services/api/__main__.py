import sys

from services.api.server import main

sys.exit(main())
