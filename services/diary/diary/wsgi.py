import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "diary.settings")
application = get_wsgi_application()

# What is loaded by now (the code, settings, URL patterns) lives as long as the process: keep it
# out of the garbage collector's full passes, which would otherwise walk it again and again while
# a request such as a 500-item sync allocates its objects.
gc.collect()
gc.freeze()
