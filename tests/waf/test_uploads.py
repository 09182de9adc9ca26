from services.waf.uploads import extract_uploads, is_file_body

BOUNDARY = "----b0undary"


def multipart(*parts: tuple[str, str | None, bytes]) -> tuple[str, bytes]:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return f"multipart/form-data; boundary={BOUNDARY}", out + f"--{BOUNDARY}--\r\n".encode()


def test_multipart_parts_with_a_filename_are_files() -> None:
    ct, body = multipart(("title", None, b"hello"), ("doc", "r\xe9sum\xe9.pdf", b"%PDF-1.7\x00\xff"),
                         ("pic", "a.png", b"\x89PNG"))
    files = extract_uploads("POST", "/upload", ct, body)
    assert [(f.field, f.name, f.data) for f in files] == [("doc", "résumé.pdf", b"%PDF-1.7\x00\xff"),
                                                          ("pic", "a.png", b"\x89PNG")]


def test_raw_bodies() -> None:
    assert extract_uploads("PUT", "/files/shell%2Ephp", "text/x-php", b"<?php")[0].name == "shell.php"
    assert extract_uploads("POST", "/api", "application/json", b"{}") == []
    assert extract_uploads("POST", "/form", "application/x-www-form-urlencoded", b"a=1") == []
    assert extract_uploads("POST", "/blob", "application/octet-stream", b"MZ")[0].data == b"MZ"
    assert extract_uploads("GET", "/", "", b"") == []
    assert is_file_body("POST", "application/vnd.api+json") is False
    assert is_file_body("PATCH", "application/zip") is True
