"""The app's blueprints, one per module: ``pages`` (the page at /) and ``api`` (/api/near)."""
