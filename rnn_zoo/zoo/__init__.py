"""The zoo format: schema, shards, manifest, card, loading, Hub fetch, verification, summary."""
