"""The services extracted from the monolith: payments and inventory, each a Django project
with its own settings, database, queue and worker. They share nothing with the monolith
but contracts/ and the infrastructure libraries (messaging, servicekit)."""
