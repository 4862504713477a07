"""The inventory service: the monolith's inventory context running on its own (own database,
queue and worker), generated app in inventory/, configuration in config/."""
