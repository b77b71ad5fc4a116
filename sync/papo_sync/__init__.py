"""Papo Social sync: the wire protocol and both ends of the MQTT link."""
