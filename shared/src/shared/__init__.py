"""Code every service uses. It imports third-party packages only, never a service."""
