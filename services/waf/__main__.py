import sys

from services.waf.server import main

sys.exit(main())
