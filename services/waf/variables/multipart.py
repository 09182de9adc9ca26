"""Multipart request bodies (FILES, FILES_NAMES, MULTIPART_* variables): not parsed yet.

ModSecurity parses ``multipart/form-data`` into ARGS_POST and FILES; until this module does, a
multipart body is visible to rules only as REQUEST_BODY. The body processor selection in
:mod:`services.waf.variables.body` already recognises the type so that adding the parser here is
the only change needed.
"""
