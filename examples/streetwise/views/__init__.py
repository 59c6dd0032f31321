"""The app's blueprints: pages, JSON API, health. What pages and API share is in ``shared``."""
