import sys

from services.waf.regress.cli import main

sys.exit(main())
