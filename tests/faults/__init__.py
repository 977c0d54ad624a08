"""Fault tests: PostgreSQL and Redis behind a loopback proxy the test can switch off."""
