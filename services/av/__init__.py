"""Antivirus scan service: clamd (over TCP, INSTREAM) plus in-process YARA on files and archive members.

``python -m services.av`` runs the aiohttp service; :class:`services.av.client.AvClient` is how other
services (the WAF) call it; :func:`services.av.alerts.av_alert` turns an infected result into a
schema-valid alert that the caller emits on its own Kafka producer.
"""
