"""The application layer: one Ray-free use case per business operation, over injected ports.

The bot, the HTTP routes and the CLI parse their input, call a use case from here and render its
result; a rule that every surface must keep (the monthly grant before any wallet view, a token
revocation with every role change) lives in one use case, so the surfaces cannot disagree. A new
feature is a use case here first, then a thin adapter per surface.
"""
