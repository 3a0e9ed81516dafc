"""The audit trail (who did or read what) and row history (what each tracked row looked like
after every write), both append-only. See docs/adr/0008-audit-trail.md."""
