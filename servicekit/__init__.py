"""What every carve service is built with: settings from the environment, signed-token
auth, one error body format, pagination, health checks. Shared infrastructure only;
no domain code lives here."""
