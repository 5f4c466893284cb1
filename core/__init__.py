"""Ray-free domain code: configuration, database access, text, ledger rules, retrieval maths."""
