"""Configuration: tenancy (tenants, VPCs, WAF sites, API keys) and service settings."""
