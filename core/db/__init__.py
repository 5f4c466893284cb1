"""PostgreSQL access: migrations, connection pools and the small repositories built on them."""
