"""The HTTP API both sides of a migration serve: request and response serializers.

A route can be served by the monolith or by the extracted service; clients must not
tell the difference. So the shapes live here, once, and each side's views use them.
"""
