"""The demo tenant's application: an echo server behind the WAF.

It answers 200 to any method and path and echoes what it received (method, raw path, query, headers in
order, body as base64 and SHA-256), so a user or a test can check what crossed the WAF byte for byte.
"""
