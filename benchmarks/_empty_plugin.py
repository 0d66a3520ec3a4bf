"""An empty pytest plugin: the start-up control, loaded with ``-p`` like the plugin beside it.

``-p NAME`` makes pytest look NAME up among every installed distribution's entry points before
importing it (with autoloading on, bare pytest reads those entry points anyway), so the plugin
and its control pay that alike and the ratio is the plugin's own cost.
"""
