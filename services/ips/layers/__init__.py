"""Sans-IO network layers shared by the inline proxy and pcap replay: no sockets, no asyncio.

A capture goes ``pcap`` (frames) -> ``decode`` (packets) -> ``defrag`` (whole datagrams) ->
``flows`` (flow events, with ``reassembly`` giving each TCP direction's bytes in order exactly
once) -> ``app`` (protocol detection, then the HTTP/1.x, DNS and TLS parsers whose transactions
expose Suricata's sticky buffers). The inline proxy has no packets: it feeds the relayed bytes
straight to ``app``. ``pcapgen`` builds captures from payloads for tests and benchmarks.
"""
