"""Database helpers every service may use."""
