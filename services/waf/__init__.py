"""The WAF service: an asynchronous inline reverse proxy over the SecLang engine.

The engine (``services.waf.engine`` and the modules beside it) is a library that knows nothing of
sockets; this package is the thin process around it: it routes by Host to a protected site, buffers
the request body up to the site's limit (as ModSecurity does for phase 2), runs the phases, forwards
to the upstream, streams the response back and emits one alert per logged rule match.
"""
