// Recipes, config, watching, queue, runs, outbox, systemd.
