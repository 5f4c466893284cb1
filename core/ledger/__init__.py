"""The prepaid credit wallet: integer micro-credits, two-phase reservations, an append-only ledger.

`commands` validates requests, `machine` applies a batch of them to locked rows in memory, `store`
loads and writes those rows in one PostgreSQL transaction, `reconcile` checks the sums. Only the
WalletLedger shard actors (actors.wallet) call `store`'s writers.
"""
