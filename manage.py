#!/usr/bin/env python
"""manage.py of the example monolith."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monolith.config.settings.base")
    from servicekit.manage import run_manage

    run_manage(sys.argv)
