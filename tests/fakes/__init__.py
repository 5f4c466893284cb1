"""Loopback test doubles for the external services Ustadh talks to (Telegram, OpenAI)."""
