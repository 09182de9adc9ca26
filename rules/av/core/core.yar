/*
 * secchain core AV pack: YARA rules.
 * These run in-process in services/av on the uploaded file and on every member the archive walker
 * extracts (zip, gzip, tar), which is how a macro inside an OOXML document's vbaProject.bin is seen.
 * Rule names are the signature names reported by the scan API, prefixed "Secchain.YARA.".
 * No rule contains the EICAR test string whole: the EICAR rule matches its two halves as hex.
 */

rule EICAR_TestFile
{
    meta:
        description = "EICAR anti-malware test file, also embedded in a larger file"
        category = "test"
        severity = 2
    strings:
        $head = { 58 35 4F 21 50 25 40 41 50 5B 34 5C 50 5A 58 35 34 28 50 5E 29 37 43 43 29 37 7D 24 }
        $tail = { 45 49 43 41 52 2D 53 54 41 4E 44 41 52 44 2D 41 4E 54 49 56 49 52 55 53 2D 54 45 53 54 2D 46 49 4C 45 21 24 48 2B 48 2A }
    condition:
        $head and $tail and @tail[1] - @head[1] == 28
}

rule Webshell_PHP_RequestEval
{
    meta:
        description = "PHP page that hands request input to an evaluator or a shell function"
        category = "webshell"
        severity = 1
    strings:
        $php = "<?php" nocase
        $sink1 = /(eval|assert|system|shell_exec|passthru|popen|proc_open)\s*\(/ nocase
        $src = /\$_(POST|GET|REQUEST|COOKIE)\s*\[/
        $obf = /base64_decode\s*\(\s*\$_(POST|GET|REQUEST|COOKIE)/ nocase
    condition:
        filesize < 2MB and $php and (($sink1 and $src) or $obf)
}

rule Webshell_JSP_RuntimeExec
{
    meta:
        description = "JSP page that runs a command taken from a request parameter"
        category = "webshell"
        severity = 1
    strings:
        $tag = "<%"
        $exec1 = "Runtime.getRuntime().exec(" nocase
        $exec2 = "new ProcessBuilder(" nocase
        $param = "request.getParameter(" nocase
    condition:
        filesize < 2MB and $tag and ($exec1 or $exec2) and $param
}

rule Webshell_ASPX_ProcessStart
{
    meta:
        description = "ASP.NET page that starts a process with request input"
        category = "webshell"
        severity = 1
    strings:
        $page = /<%@\s*Page/ nocase
        $proc1 = "Process.Start(" nocase
        $proc2 = "ProcessStartInfo" nocase
        $req1 = "Request.Form" nocase
        $req2 = "Request.QueryString" nocase
        $req3 = "Request[" nocase
    condition:
        filesize < 2MB and $page and any of ($proc*) and any of ($req*)
}

rule Office_OLE2_AutoExecMacro
{
    meta:
        description = "OLE2 compound file (legacy Office document or OOXML vbaProject.bin) with a VBA project and an auto-executing macro entry point"
        category = "macro"
        severity = 2
    strings:
        $vba1 = "Attribute VB_" nocase
        $vba2 = "_VBA_PROJECT" wide
        $vba3 = "VBA" wide
        $auto1 = "AutoOpen" nocase
        $auto2 = "Auto_Open" nocase
        $auto3 = "Document_Open" nocase
        $auto4 = "Workbook_Open" nocase
        $auto5 = "AutoExec" nocase
    condition:
        uint32be(0) == 0xD0CF11E0 and uint32be(4) == 0xA1B11AE1 and any of ($vba*) and any of ($auto*)
}

rule Office_OOXML_MacroEnabled
{
    meta:
        description = "OOXML (zip) package declaring a VBA project part; the auto-exec check runs on the extracted vbaProject.bin member"
        category = "macro"
        severity = 3
    strings:
        $part = /(word|xl|ppt)\/vbaProject\.bin/
    condition:
        uint32(0) == 0x04034B50 and $part
}

rule Script_Dropper_EmbeddedPE
{
    meta:
        description = "Script carrying a base64 Windows executable that writes it to disk and runs it"
        category = "dropper"
        severity = 1
    strings:
        $pe_b64 = "TVqQAAMAAAAEAAAA"
        $write1 = "WriteAllBytes" nocase
        $write2 = "ADODB.Stream" nocase
        $write3 = "certutil" nocase
        $write4 = "SaveToFile" nocase
        $run1 = "Start-Process" nocase
        $run2 = ".Run(" nocase
        $run3 = "Invoke-Item" nocase
        $run4 = "cmd /c" nocase
    condition:
        $pe_b64 and any of ($write*) and any of ($run*)
}
