"""Fixtures: a real Kafka-protocol broker (tansu) on loopback."""
