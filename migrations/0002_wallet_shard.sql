-- The wallet shard of a user: the SQL twin of core.ledger.sharding.shard_of (a Fibonacci hash),
-- so a shard actor's expiry sweep selects only the reservations of the users it owns.
CREATE FUNCTION wallet_shard(user_id BIGINT, shards INT) RETURNS INT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (div(mod(user_id::numeric * 11400714819323198485, 18446744073709551616), 4294967296) % shards)::int;
