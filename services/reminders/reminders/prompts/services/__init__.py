"""Writes of the prompts app, by concern: planning, dispatch, answering, receipts."""
