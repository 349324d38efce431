"""The dashboard: server-rendered pages (Jinja), their static assets and the browser session.

`sessions.py` is the session itself (cookie, stored hash, CSRF); `login.py` the sign-in and
sign-out routes; `pages.py` and `catalog.py` the pages (`integrations.py` what the settings page
shows of the integrations); `assets.py` the static files; `badges.py` the public SVG badge.
Templates and static files live beside them and ship as package data.
"""
