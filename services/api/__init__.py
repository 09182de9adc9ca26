"""The audit search API: analysts query their tenant's alerts (``/v1/alerts``, ``/v1/alerts/stats``)."""
