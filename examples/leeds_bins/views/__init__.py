"""The app's blueprints: pages, SMS sign-up, Twilio webhooks, JSON API, health."""
