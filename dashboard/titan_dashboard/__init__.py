# Titan's operator dashboard: a Starlette app that is a client of the broker through the SDK (one client per
# logged-in user, with that user's credential) and follows the broker's event feed, pushed to browsers as
# Server-Sent Events. `python -m titan_dashboard` (or `titan dashboard`) runs it; docs/dashboard.md.
__version__ = "0.1.0"
