"""manage.py of the inventory service: `python -m extracted.inventory migrate`."""

import os
import sys

from servicekit.manage import run_manage

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.inventory.config.settings")
run_manage(["python -m extracted.inventory", *sys.argv[1:]])
