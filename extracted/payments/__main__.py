"""manage.py of the payments service: `python -m extracted.payments migrate`."""

import os
import sys

from servicekit.manage import run_manage

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.payments.config.settings")
run_manage(["python -m extracted.payments", *sys.argv[1:]])
