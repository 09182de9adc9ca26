"""Sample generators that AV pack cases name (``sample: php_webshell`` in rules/av/core/tests.yaml).

``secchain rules test av/core``, the AV tests and the AV benchmark build their samples here, at run
time: the repository holds no live malware, and the EICAR test string is assembled from parts so
no file in the repository contains it whole (which would make the repository itself trip every
scanner that looks at it, as ClamAV's own test files are generated at build time for that reason).
A pack's case may name any generator in :data:`SAMPLES`; an unknown name is a case-file error.
"""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable

_EICAR_PARTS = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS", "-TEST-FILE!$H+H*")


def eicar() -> bytes:
    return "".join(_EICAR_PARTS).encode("ascii")


def eicar_crlf() -> bytes:
    return eicar() + b"\r\n"


def eicar_one_byte_changed() -> bytes:
    data = bytearray(eicar())
    data[-1] = ord("#")  # breaks the hashes and the body pattern's last byte
    return bytes(data)


def eicar_embedded() -> bytes:
    return b"%PDF-1.4\n% harmless header\n" + eicar() + b"\n%%EOF\n"


def php_webshell() -> bytes:
    return b"<?php\nif (isset($_POST['c'])) { @eval(base64_decode($_POST['c'])); }\n?>\n"


def php_benign() -> bytes:
    return b"<?php\n$q = $_GET['q'] ?? '';\necho htmlspecialchars($q, ENT_QUOTES);\n?>\n"


def jsp_webshell() -> bytes:
    return (b'<%@ page import="java.io.*" %>\n<% Process p = Runtime.getRuntime().exec('
            b'request.getParameter("cmd")); %>\n')


def jsp_benign() -> bytes:
    return b'<%@ page contentType="text/html" %>\n<% String n = request.getParameter("name"); %>Hello <%= n %>\n'


def aspx_webshell() -> bytes:
    return (b'<%@ Page Language="C#" %>\n<script runat="server">\nvoid Page_Load(object s, EventArgs e) {\n'
            b'  var psi = new System.Diagnostics.ProcessStartInfo("cmd.exe", "/c " + Request.Form["c"]);\n'
            b'  System.Diagnostics.Process.Start(psi);\n}\n</script>\n')


def aspx_benign() -> bytes:
    return (b'<%@ Page Language="C#" %>\n<script runat="server">\nvoid Page_Load(object s, EventArgs e) {\n'
            b'  Label1.Text = Server.HtmlEncode(Request.Form["name"]);\n}\n</script>\n')


def _ole(body: bytes) -> bytes:
    # An OLE2 compound-file signature and a VBA module's attribute lines: enough for the signatures,
    # which look for the container magic plus the macro markers, not a full CFB structure.
    return bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504 + body


def ole_auto_macro() -> bytes:
    return _ole(b'Attribute VB_Name = "ThisDocument"\r\nSub AutoOpen()\r\n  Shell "calc.exe"\r\nEnd Sub\r\n')


def ole_macro_no_autoexec() -> bytes:
    return _ole(b'Attribute VB_Name = "Module1"\r\nSub FormatTable()\r\n  Selection.Tables(1).Select\r\nEnd Sub\r\n')


def _ooxml(extra: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>')
        for name, data in extra.items():
            z.writestr(name, data)
    return buf.getvalue()


def docm_auto_macro() -> bytes:
    return _ooxml({"word/vbaProject.bin": ole_auto_macro()})


def docx_plain() -> bytes:
    return _ooxml({"word/styles.xml": b"<styles/>"})


_FAKE_PE = base64.b64encode(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48).decode()


def ps1_dropper() -> bytes:
    return (f'$b = "{_FAKE_PE}"\r\n'
            '[IO.File]::WriteAllBytes("$env:TEMP\\upd.exe", [Convert]::FromBase64String($b))\r\n'
            'Start-Process "$env:TEMP\\upd.exe"\r\n').encode()


def ps1_benign() -> bytes:
    return (b'$report = Get-Content .\\report.csv\r\n[IO.File]::WriteAllBytes("out.bin", [byte[]](1,2,3))\r\n'
            b'Start-Process notepad.exe out.bin\r\n')


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def eicar_tar_gz_in_zip() -> bytes:
    inner = gzip.compress(tar_bytes({"docs/readme.txt": b"hello\n", "bin/eicar.com": eicar()}))
    return zip_bytes({"bundle.tar.gz": inner, "notes.txt": b"quarterly notes\n"})


def nested_zips(depth: int, payload: bytes) -> bytes:
    data = payload
    for level in range(depth):
        data = zip_bytes({f"level{level}.zip" if level else "payload.txt": data})
    return data


SAMPLES: dict[str, Callable[[], bytes]] = {
    fn.__name__: fn for fn in (
        eicar, eicar_crlf, eicar_one_byte_changed, eicar_embedded, php_webshell, php_benign, jsp_webshell,
        jsp_benign, aspx_webshell, aspx_benign, ole_auto_macro, ole_macro_no_autoexec, docm_auto_macro,
        docx_plain, ps1_dropper, ps1_benign, eicar_tar_gz_in_zip,
    )
}
