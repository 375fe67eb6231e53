"""The captive portal (issue 17 point 4): plain HTML/CSS/JS pages served by the admin port under /portal/, for
Mikrotik hotspot login pages to link to (ocs.portal.routes)."""
