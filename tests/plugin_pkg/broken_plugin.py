"""A plug-in module that fails to import (for the loader's error test)."""
raise RuntimeError("broken on purpose")
