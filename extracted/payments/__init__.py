"""The payments service: the monolith's payments context running on its own (own database,
queue and worker), generated app in payments/, configuration in config/."""
