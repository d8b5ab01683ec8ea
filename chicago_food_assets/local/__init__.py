"""Local tooling: the ./run CLI, its environment, the embedded PostgreSQL, the Socrata replay server, the feed
generator. The product (definitions, assets, core, resources) never imports it."""
