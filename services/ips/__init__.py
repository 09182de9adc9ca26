"""The IPS: a Suricata-rule engine over TCP/UDP flows, inline (asyncio L4 proxy) and offline (pcap).

Layout (see DESIGN.md / STYLE.md):

- ``signatures/``  Suricata rule parser; one module per keyword family in ``signatures/keywords/``.
- ``detect/``      the detection engine: rule groups, Hyperscan prefilter per group and buffer,
                   stream inspection, flowbits / thresholds state, per-flow detector.
- ``layers/``      sans-IO packet decode, flow table, TCP reassembly, pcap reading, and the light
                   HTTP/1.x, DNS and TLS parsers (``layers/app/``) that feed the sticky buffers.
- ``output/``      EVE JSON records and the common alert schema.
- ``proxy.py`` / ``replay.py`` / ``server.py``: the thin service around the engine.
"""
