#!/usr/bin/env python3
"""Builds the golden messages for the classified-document check (REGULATIONS.md M7, M8).

usage: make_fixtures.py OUT_DIR

Writes OUT_DIR/<case>.eml for every case of the matrix below and OUT_DIR/manifest.json:

    {"cases": [{"file": "body_nfc_toi_mat.eml", "about": "...",
                "verdict": "quarantine" | "accept",
                "markings": [{"degree": "TỐI MẬT", "where": "body", "part": "1",
                              "kind": "standalone_line", "line": 3, "encoding": "tcvn3",
                              "name": "x.docx"}, ...],
                "legacy": null | {"encodings": [...], "parts": [{"part": ..., "encoding": ...}]},
                "secrets": ["a sentence of the document that must never reach the log"]}]}

A marking lists only the evidence keys the case pins down ("encoding": null: the marking
must carry no encoding, the text was Unicode); every marking the check reports must match
one of the listed ones (on degree, where, kind, part, name), so an extra marking found in
the prose around a stamp is a failure too. "legacy": null means no legacy_encoding
finding may be reported; a case without the key does not look at that finding.

The matrix: every example of milter/checks/classified_marking.h, in a text/plain body in
UTF-8 NFC, UTF-8 NFD, windows-1258, TCVN3 and VNI (the legacy ones declared windows-1252 or
ISO-8859-1, as mail from legacy-font documents is); in the Subject; in HTML; and in
attachments: DOCX (table cell, text box, header, TCVN3 ".VnTimeH" runs, "VNI-Times" runs),
XLSX, PPTX, ODT, ODS, PDF, RTF (Unicode, code page 1258, TCVN3 font), HTML and text.

Documents are written as Word, Excel, PowerPoint and LibreOffice write them (the XML
elements, namespaces and package parts those programs produce), kept small; every XML part
is parsed back with xml.etree before the file is written. The PDF comes from
tests/data/make_pdf.py (reportlab with a Unicode TrueType font). Everything is deterministic:
fixed dates, identifiers, boundaries and zip timestamps.

The module is also imported by tests/integration/test_classified.py for its documents.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pathlib
import quopri
import subprocess
import sys
import unicodedata
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
MAKE_PDF = REPO / "tests" / "data" / "make_pdf.py"


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


# ------------------------------------------------------------------------------------------
# Legacy Vietnamese encoders (the published TCVN3 and VNI encodings; the assertions at the
# end of this section are the byte strings tests/unit/vietnamese_text_test.cc expects from
# mime::UnicodeToLegacyBytes, so both sides agree on the same bytes)
# ------------------------------------------------------------------------------------------

# TCVN3 (VN3) bytes 0xA0-0xFF, one character per byte, "\0" where VN3 defines no letter.
_TCVN3_A0 = ("\0ĂÂÊÔƠƯĐăâêôơưđ\0"
             "\0\0\0\0\0àảãáạ\0ằẳẵắ\0"
             "\0\0\0\0\0\0ặầẩẫấậè\0ẻẽ"
             "éẹềểễếệìỉ\0\0\0ĩíịò"
             "\0ỏõóọồổỗốộờởỡớợù"
             "\0ủũúụừửữứựỳỷỹýỵ\0")
assert len(_TCVN3_A0) == 96
_TCVN3 = {ch: 0xA0 + i for i, ch in enumerate(_TCVN3_A0) if ch != "\0"}


def tcvn3(text: str) -> bytes:
    """Unicode -> TCVN3 bytes. VN3 has no upper-case toned letters: they are written as
    their lower-case bytes, as someone typing in an ".VnTimeH" font does."""
    out = bytearray()
    for ch in nfc(text):
        if ord(ch) < 0x80:
            out.append(ord(ch))
        elif ch in _TCVN3:
            out.append(_TCVN3[ch])
        elif ch.lower() in _TCVN3:
            out.append(_TCVN3[ch.lower()])
        else:
            raise ValueError(f"{ch!r} has no TCVN3 byte")
    return bytes(out)


_GRAVE, _ACUTE, _TILDE, _HOOK, _DOT = "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"
_CIRCUMFLEX, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"
_TONES = (_GRAVE, _ACUTE, _TILDE, _HOOK, _DOT)
# VNI diacritic bytes (lower-case forms; upper-case letters take the byte - 0x20).
_VNI_TONE = {_ACUTE: 0xF9, _GRAVE: 0xF8, _HOOK: 0xFB, _TILDE: 0xF5, _DOT: 0xEF}
_VNI_CIRCUMFLEX = {None: 0xE2, _ACUTE: 0xE1, _GRAVE: 0xE0, _HOOK: 0xE5, _TILDE: 0xE3,
                   _DOT: 0xE4}
_VNI_BREVE = {None: 0xEA, _ACUTE: 0xE9, _GRAVE: 0xE8, _HOOK: 0xFA, _TILDE: 0xFC, _DOT: 0xEB}
_VNI_I = {_ACUTE: 0xED, _GRAVE: 0xEC, _HOOK: 0xE6, _TILDE: 0xF3, _DOT: 0xF2}


def vni(text: str) -> bytes:
    """Unicode -> VNI (VNI-Windows) bytes: base letter + diacritic byte."""
    out = bytearray()
    for ch in nfc(text):
        if ord(ch) < 0x80:
            out.append(ord(ch))
            continue
        if ch in "đĐ":
            out.append(0xF1 if ch == "đ" else 0xD1)
            continue
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        if not base.isascii() or not base.isalpha():
            raise ValueError(f"{ch!r} has no VNI bytes")
        upper = base.isupper()
        shift = 0x20 if upper else 0
        tone = next((m for m in marks if m in _TONES), None)
        lower = base.lower()
        if _HORN in marks:                       # ơ ư are single bytes, then the tone
            out.append({"o": 0xF4, "u": 0xF6}[lower] - shift)
            if tone:
                out.append(_VNI_TONE[tone] - shift)
        elif lower == "i" and tone:
            out.append(_VNI_I[tone] - shift)
        elif lower == "y" and tone == _DOT:
            out.append(0xEE - shift)
        elif _CIRCUMFLEX in marks:
            out += bytes([ord(base), _VNI_CIRCUMFLEX[tone] - shift])
        elif _BREVE in marks:
            out += bytes([ord(base), _VNI_BREVE[tone] - shift])
        elif tone:
            out += bytes([ord(base), _VNI_TONE[tone] - shift])
        else:
            raise ValueError(f"{ch!r} has no VNI bytes")
    return bytes(out)


_CP1258_TONE = {_GRAVE: b"\xcc", _ACUTE: b"\xec", _HOOK: b"\xd2", _TILDE: b"\xde",
                _DOT: b"\xf2"}


def cp1258(text: str) -> bytes:
    """Unicode -> windows-1258 as Windows writes it: a precomposed letter where the code page
    has one, else the letter without its tone mark followed by the combining tone byte."""
    out = bytearray()
    for ch in nfc(text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        tones = [m for m in decomposed if m in _TONES]
        rest = nfc("".join(m for m in decomposed if m not in _TONES))
        out += rest.encode("cp1258") + b"".join(_CP1258_TONE[t] for t in tones)
    return bytes(out)


def reading(data: bytes) -> str:
    """What a windows-1252 decoder makes of legacy bytes (how Word stores legacy-font runs)."""
    return data.decode("cp1252")


# The bytes vietnamese_text_test.cc asserts for UnicodeToLegacyBytes.
assert tcvn3("Việt Nam") == b"Vi\xd6t Nam"
assert tcvn3("MẬT") == b"M\xcbT"
assert tcvn3("TỐI MẬT") == b"T\xe8I M\xcbT"
assert tcvn3("TUYỆT MẬT") == b"TUY\xd6T M\xcbT"
assert tcvn3("Độ mật") == b"\xa7\xe9 m\xcbt"
assert vni("Việt Nam") == b"Vie\xe4t Nam"
assert vni("MẬT") == b"MA\xc4T"
assert vni("được những").decode("latin-1") == "ñöôïc nhöõng"
assert nfc(cp1258("TỐI MẬT").decode("cp1258")) == "TỐI MẬT"

# ------------------------------------------------------------------------------------------
# MIME
# ------------------------------------------------------------------------------------------

SENDER = "van.thu@sonoivu.example.vn"
RCPT = "lanh.dao@bacgiang.gov.vn"
DATE = "Mon, 18 Nov 2024 09:15:00 +0700"


def b_word(text: str, charset: str = "UTF-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset.lower())).decode()}?="


def q_word(data: bytes, charset: str) -> str:
    safe = b"!*+-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    enc = "".join(chr(c) if c in safe else ("_" if c == 0x20 else f"={c:02X}") for c in data)
    return f"=?{charset}?Q?{enc}?="


def subject_header(text: str) -> str:
    """The Subject as most mailers send it: ASCII as is, else one RFC 2047 B word."""
    return text if text.isascii() else b_word(text)


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def text_leaf(text: bytes, charset: str, cte: str = "8bit", subtype: str = "plain",
              filename: str | None = None) -> bytes:
    if cte == "quoted-printable":
        payload = quopri.encodestring(text.replace(b"\r\n", b"\n"))
    elif cte == "base64":
        payload = base64.encodebytes(text)
    else:
        payload = crlf(text)
    head = f"Content-Type: text/{subtype}; charset={charset}"
    if filename:
        head += f'; name="{filename}"\nContent-Disposition: attachment; filename="{filename}"'
    return (head + f"\nContent-Transfer-Encoding: {cte}\n\n").encode() + payload


def file_leaf(data: bytes, ctype: str, filename: str) -> bytes:
    """An attachment as Outlook sends one: base64, RFC 2047 name= and RFC 2231 filename*=
    when the name is not ASCII."""
    if filename.isascii():
        params = f'; name="{filename}"', f'; filename="{filename}"'
    else:
        params = (f'; name="{b_word(filename)}"',
                  f"; filename*=utf-8''{urllib.parse.quote(filename)}")
    head = (f"Content-Type: {ctype}{params[0]}\nContent-Disposition: attachment{params[1]}\n"
            "Content-Transfer-Encoding: base64\n\n")
    return head.encode() + base64.encodebytes(data)


def multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n'.encode()]
    if subtype == "mixed":
        out.append(b"This is a multi-part message in MIME format.\n")
    for p in parts:
        out.append(f"--{boundary}\n".encode() + p.rstrip(b"\n") + b"\n")
    out.append(f"--{boundary}--\n".encode())
    return b"".join(out)


def message(name: str, subject: str, entity: bytes) -> bytes:
    """A complete message: envelope-ish headers (subject given encoded) + one MIME entity."""
    head = (f"From: =?UTF-8?B?{base64.b64encode('Văn thư Sở Nội vụ'.encode()).decode()}?= "
            f"<{SENDER}>\nTo: {RCPT}\nSubject: {subject}\nDate: {DATE}\n"
            f"Message-ID: <{name}@sonoivu.example.vn>\nMIME-Version: 1.0\n").encode()
    return crlf(head + entity)


NEUTRAL_BODY = ("Kính gửi anh chị,\n\nVăn phòng xin gửi kèm tài liệu để anh chị xem xét.\n\n"
                "Trân trọng,\nVăn thư\n")


def with_attachment(name: str, subject: str, filename: str, data: bytes, ctype: str,
                    body: str = NEUTRAL_BODY) -> bytes:
    """multipart/mixed: the text (part 1/1) and one attachment (part 1/2)."""
    return message(name, subject_header(subject), multipart(
        "mixed", [text_leaf(body.encode(), "utf-8"), file_leaf(data, ctype, filename)],
        f"=_mixed_{name}"))


# ------------------------------------------------------------------------------------------
# Zip packages
# ------------------------------------------------------------------------------------------

_ZIP_TIME = (2024, 11, 18, 9, 0, 0)


def check_xml(name: str, data: bytes) -> None:
    """Every XML part must be well-formed (what ET parses); raises on a mistake here."""
    try:
        ET.fromstring(data)
    except ET.ParseError as e:
        raise AssertionError(f"{name} is not well-formed XML: {e}") from None


def zip_package(members: list[tuple[str, bytes | str]], stored_first: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (name, data) in enumerate(members):
            raw = data.encode() if isinstance(data, str) else data
            if name.endswith((".xml", ".rels")):
                check_xml(name, raw)
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = (zipfile.ZIP_STORED if stored_first and i == 0
                                  else zipfile.ZIP_DEFLATED)
            z.writestr(info, raw)
    return buf.getvalue()


XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = NS_OFFICE_REL + "/"


def content_types(defaults: dict[str, str], overrides: dict[str, str]) -> str:
    return (XML_DECL
            + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            + '<Default Extension="rels" '
              'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            + '<Default Extension="xml" ContentType="application/xml"/>'
            + "".join(f'<Default Extension="{k}" ContentType="{v}"/>'
                      for k, v in defaults.items())
            + "".join(f'<Override PartName="{k}" ContentType="{v}"/>'
                      for k, v in overrides.items())
            + "</Types>")


def relationships(rels: list[tuple[str, str, str]]) -> str:
    return (XML_DECL + f'<Relationships xmlns="{NS_PKG_REL}">'
            + "".join(f'<Relationship Id="{i}" Type="{REL if not t.startswith("http") else ""}'
                      f'{t}" Target="{target}"/>' for i, t, target in rels)
            + "</Relationships>")


def package_rels(main: str) -> str:
    return relationships([
        ("rId3", "extended-properties", "docProps/app.xml"),
        ("rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
                 "core-properties", "docProps/core.xml"),
        ("rId1", "officeDocument", main)])


def doc_props(application: str) -> list[tuple[str, str]]:
    core = (XML_DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/'
            '2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/'
            'dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:title>Báo cáo</dc:title><dc:creator>Văn thư</dc:creator>"
            '<dcterms:created xsi:type="dcterms:W3CDTF">2024-11-18T02:00:00Z</dcterms:created>'
            '<dcterms:modified xsi:type="dcterms:W3CDTF">2024-11-18T02:00:00Z</dcterms:modified>'
            "</cp:coreProperties>")
    app = (XML_DECL + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
           'extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/'
           f'2006/docPropsVTypes"><Application>{application}</Application>'
           "<AppVersion>16.0000</AppVersion></Properties>")
    return [("docProps/core.xml", core), ("docProps/app.xml", app)]


CT_CORE = "application/vnd.openxmlformats-package.core-properties+xml"
CT_APP = "application/vnd.openxmlformats-officedocument.extended-properties+xml"


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------------------------------
# DOCX (WordprocessingML as Word 2016 writes it)
# ------------------------------------------------------------------------------------------

W_NAMESPACES = (
    'xmlns:wpc="http://schemas.microsoft.com/office/word/2010/wordprocessingCanvas" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:o="urn:schemas-microsoft-com:office:office" '
    f'xmlns:r="{NS_OFFICE_REL}" '
    'xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:wp14="http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:w10="urn:schemas-microsoft-com:office:word" '
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
    'xmlns:wpg="http://schemas.microsoft.com/office/word/2010/wordprocessingGroup" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'mc:Ignorable="w14 wp14"')

LEGACY_FONT_TCVN3 = ".VnTime"
LEGACY_FONT_TCVN3_UPPER = ".VnTimeH"
LEGACY_FONT_VNI = "VNI-Times"


def w_run(text: str, font: str | None = None, bold: bool = False, size: int = 26) -> str:
    """A w:r; `font` sets w:rFonts as Word does for a legacy font (ascii and hAnsi)."""
    props = ""
    if font:
        props += f'<w:rFonts w:ascii="{font}" w:hAnsi="{font}"/>'
    if bold:
        props += "<w:b/><w:bCs/>"
    props += f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f"<w:r><w:rPr>{props}</w:rPr><w:t{space}>{esc(text)}</w:t></w:r>"


def w_p(*runs: str, align: str | None = None, rsid: str = "00A21C4F") -> str:
    ppr = f'<w:pPr><w:jc w:val="{align}"/></w:pPr>' if align else ""
    return f'<w:p w:rsidR="{rsid}" w:rsidRDefault="{rsid}">{ppr}{"".join(runs)}</w:p>'


def w_text(text: str, **kw) -> str:
    """A paragraph of one run."""
    align = kw.pop("align", None)
    return w_p(w_run(text, **kw), align=align)


def w_table(rows: list[list[str]]) -> str:
    """A w:tbl; each cell is the inner XML of a w:tc (one or more w:p)."""
    cols = len(rows[0])
    width = 9000 // cols
    grid = "".join(f'<w:gridCol w:w="{width}"/>' for _ in range(cols))
    out = ['<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="0" w:type="auto"/>'
           '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" '
           f'w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>{grid}'
           "</w:tblGrid>"]
    for row in rows:
        out.append('<w:tr w:rsidR="00A21C4F" w:rsidTr="00A21C4F">')
        for cell in row:
            out.append(f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{cell}</w:tc>')
        out.append("</w:tr>")
    out.append("</w:tbl>")
    return "".join(out)


def w_txbx_content(*paragraphs: str) -> str:
    return f"<w:txbxContent>{''.join(paragraphs)}</w:txbxContent>"


def w_textbox_run(*paragraphs: str) -> str:
    """A floating text box as Word 2010+ saves it: mc:AlternateContent with a DrawingML
    shape (wps:txbx) and the VML fallback (v:textbox), both holding the text."""
    content = w_txbx_content(*paragraphs)
    return (
        '<w:r><w:rPr><w:noProof/></w:rPr><mc:AlternateContent><mc:Choice Requires="wps">'
        '<w:drawing><wp:anchor distT="45720" distB="45720" distL="114300" distR="114300" '
        'simplePos="0" relativeHeight="251659264" behindDoc="0" locked="0" layoutInCell="1" '
        'allowOverlap="1" wp14:anchorId="3E1A2B4C" wp14:editId="5F6D7E8A">'
        '<wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="margin"><wp:align>right'
        '</wp:align></wp:positionH><wp:positionV relativeFrom="paragraph"><wp:posOffset>0'
        '</wp:posOffset></wp:positionV><wp:extent cx="1371600" cy="457200"/>'
        '<wp:effectExtent l="0" t="0" r="19050" b="19050"/><wp:wrapSquare wrapText="bothSides"/>'
        '<wp:docPr id="1" name="Text Box 1"/><wp:cNvGraphicFramePr>'
        '<a:graphicFrameLocks xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"/>'
        '</wp:cNvGraphicFramePr>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        '<wps:wsp><wps:cNvSpPr txBox="1"><a:spLocks noChangeArrowheads="1"/></wps:cNvSpPr>'
        '<wps:spPr bwMode="auto"><a:xfrm><a:off x="0" y="0"/><a:ext cx="1371600" cy="457200"/>'
        '</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:solidFill>'
        '<a:srgbClr val="FFFFFF"/></a:solidFill><a:ln w="9525"><a:solidFill>'
        '<a:srgbClr val="000000"/></a:solidFill><a:miter lim="800000"/><a:headEnd/><a:tailEnd/>'
        f'</a:ln></wps:spPr><wps:txbx>{content}</wps:txbx><wps:bodyPr rot="0" vert="horz" '
        'wrap="square" lIns="91440" tIns="45720" rIns="91440" bIns="45720" anchor="t" '
        'anchorCtr="0"><a:spAutoFit/></wps:bodyPr></wps:wsp></a:graphicData></a:graphic>'
        '<wp14:sizeRelH relativeFrom="margin"><wp14:pctWidth>0</wp14:pctWidth></wp14:sizeRelH>'
        '<wp14:sizeRelV relativeFrom="margin"><wp14:pctHeight>0</wp14:pctHeight>'
        '</wp14:sizeRelV></wp:anchor></w:drawing></mc:Choice><mc:Fallback><w:pict>'
        + _vml_textbox(content) + "</w:pict></mc:Fallback></mc:AlternateContent></w:r>")


def _vml_textbox(content: str) -> str:
    return (
        '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
        'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
        '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
        '<v:shape id="Text Box 2" o:spid="_x0000_s1026" type="#_x0000_t202" '
        'style="position:absolute;margin-left:0;margin-top:0;width:108pt;height:36pt;'
        'z-index:251659264;mso-position-horizontal:right;mso-position-horizontal-relative:'
        'margin;mso-position-vertical-relative:text">'
        f'<v:textbox style="mso-fit-shape-to-text:t">{content}</v:textbox>'
        '<w10:wrap type="square" anchorx="margin"/></v:shape>')


def w_vml_textbox_run(*paragraphs: str) -> str:
    """A text box as Word 2003/2007 saved it: VML only (w:pict/v:shape/v:textbox)."""
    return f"<w:r><w:pict>{_vml_textbox(w_txbx_content(*paragraphs))}</w:pict></w:r>"


def docx(body: str, header: str | None = None) -> bytes:
    """A Word document: `body` is the inner XML of w:body (paragraphs and tables); `header`
    the paragraphs of word/header1.xml (the default header of the only section)."""
    sect = ('<w:sectPr w:rsidR="00A21C4F">'
            + ('<w:headerReference w:type="default" r:id="rId8"/>' if header else "")
            + '<w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="1134" '
              'w:bottom="1134" w:left="1701" w:header="709" w:footer="709" w:gutter="0"/>'
              '<w:cols w:space="708"/><w:docGrid w:linePitch="360"/></w:sectPr>')
    document = (XML_DECL + f"<w:document {W_NAMESPACES}><w:body>{body}{sect}</w:body>"
                "</w:document>")
    styles = (XML_DECL + '<w:styles xmlns:w="http://schemas.openxmlformats.org/'
              'wordprocessingml/2006/main"><w:docDefaults><w:rPrDefault><w:rPr>'
              '<w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" '
              'w:cs="Times New Roman" w:eastAsia="Times New Roman"/><w:lang w:val="vi-VN"/>'
              '</w:rPr></w:rPrDefault><w:pPrDefault/></w:docDefaults>'
              '<w:style w:type="paragraph" w:default="1" w:styleId="Normal">'
              '<w:name w:val="Normal"/><w:qFormat/></w:style>'
              '<w:style w:type="table" w:styleId="TableGrid">'
              '<w:name w:val="Table Grid"/><w:basedOn w:val="TableNormal"/><w:tblPr><w:tblBorders>'
              '<w:top w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
              '<w:bottom w:val="single" w:sz="4" w:space="0" w:color="auto"/></w:tblBorders>'
              '</w:tblPr></w:style><w:style w:type="table" w:default="1" w:styleId="TableNormal">'
              '<w:name w:val="Normal Table"/></w:style></w:styles>')
    rels = [("rId1", "styles", "styles.xml")]
    overrides = {
        "/word/document.xml": "application/vnd.openxmlformats-officedocument."
                              "wordprocessingml.document.main+xml",
        "/word/styles.xml": "application/vnd.openxmlformats-officedocument."
                            "wordprocessingml.styles+xml",
        "/docProps/core.xml": CT_CORE, "/docProps/app.xml": CT_APP}
    parts = [("word/document.xml", document), ("word/styles.xml", styles)]
    if header:
        rels.append(("rId8", "header", "header1.xml"))
        overrides["/word/header1.xml"] = ("application/vnd.openxmlformats-officedocument."
                                          "wordprocessingml.header+xml")
        parts.append(("word/header1.xml", XML_DECL + f"<w:hdr {W_NAMESPACES}>{header}</w:hdr>"))
    return zip_package([("[Content_Types].xml", content_types({}, overrides)),
                        ("_rels/.rels", package_rels("word/document.xml")),
                        *parts, ("word/_rels/document.xml.rels", relationships(rels)),
                        *doc_props("Microsoft Office Word")])


# ------------------------------------------------------------------------------------------
# XLSX (SpreadsheetML as Excel writes it)
# ------------------------------------------------------------------------------------------

NS_SML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def xlsx(rows: list[list[tuple[str, str]]]) -> bytes:
    """rows of cells (kind, value): "s" a shared string, "inline" an inline string (t=
    "inlineStr", as other producers write), "n" a number. Cell references A1, B1, ..."""
    shared: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, (kind, value) in enumerate(row):
            ref = f"{chr(ord('A') + c)}{r}"
            if kind == "s":
                if value not in shared:
                    shared.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{shared.index(value)}</v></c>')
            elif kind == "inline":
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{esc(value)}</t></is></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        sheet_rows.append(f'<row r="{r}" spans="1:{len(row)}">{"".join(cells)}</row>')
    sheet = (XML_DECL + f'<worksheet xmlns="{NS_SML}" xmlns:r="{NS_OFFICE_REL}">'
             '<dimension ref="A1"/><sheetViews><sheetView tabSelected="1" workbookViewId="0"/>'
             '</sheetViews><sheetFormatPr defaultRowHeight="15"/>'
             f'<sheetData>{"".join(sheet_rows)}</sheetData>'
             '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
             'footer="0.3"/></worksheet>')
    strings = (XML_DECL + f'<sst xmlns="{NS_SML}" count="{len(shared)}" '
               f'uniqueCount="{len(shared)}">'
               + "".join(f"<si><t>{esc(s)}</t></si>" for s in shared) + "</sst>")
    workbook = (XML_DECL + f'<workbook xmlns="{NS_SML}" xmlns:r="{NS_OFFICE_REL}">'
                '<bookViews><workbookView xWindow="0" yWindow="0" windowWidth="28800" '
                'windowHeight="12300"/></bookViews><sheets><sheet name="Sheet1" sheetId="1" '
                'r:id="rId1"/></sheets></workbook>')
    styles = (XML_DECL + f'<styleSheet xmlns="{NS_SML}"><fonts count="1"><font><sz val="11"/>'
              '<name val="Times New Roman"/><family val="1"/></font></fonts><fills count="2">'
              '<fill><patternFill patternType="none"/></fill><fill><patternFill '
              'patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/>'
              '<top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf '
              'numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs '
              'count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
              '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" '
              'builtinId="0"/></cellStyles></styleSheet>')
    wb_rels = relationships([("rId3", "sharedStrings", "sharedStrings.xml"),
                             ("rId2", "styles", "styles.xml"),
                             ("rId1", "worksheet", "worksheets/sheet1.xml")])
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml."
    overrides = {"/xl/workbook.xml": ct + "sheet.main+xml",
                 "/xl/worksheets/sheet1.xml": ct + "worksheet+xml",
                 "/xl/styles.xml": ct + "styles+xml",
                 "/xl/sharedStrings.xml": ct + "sharedStrings+xml",
                 "/docProps/core.xml": CT_CORE, "/docProps/app.xml": CT_APP}
    return zip_package([("[Content_Types].xml", content_types({}, overrides)),
                        ("_rels/.rels", package_rels("xl/workbook.xml")),
                        ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", wb_rels),
                        ("xl/worksheets/sheet1.xml", sheet), ("xl/styles.xml", styles),
                        ("xl/sharedStrings.xml", strings), *doc_props("Microsoft Excel")])


# ------------------------------------------------------------------------------------------
# PPTX (PresentationML as PowerPoint writes it)
# ------------------------------------------------------------------------------------------

NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
P_NAMESPACES = f'xmlns:a="{NS_A}" xmlns:r="{NS_OFFICE_REL}" xmlns:p="{NS_P}"'
_EMPTY_TREE = ('<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/>'
               '<p:nvPr/></p:nvGrpSpPr><p:grpSpPr><a:xfrm><a:off x="0" y="0"/>'
               '<a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/><a:chExt cx="0" cy="0"/></a:xfrm>'
               '</p:grpSpPr></p:spTree></p:cSld>')
_CLR_MAP = ('<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" '
            'accent2="accent2" accent3="accent3" accent4="accent4" accent5="accent5" '
            'accent6="accent6" hlink="hlink" folHlink="folHlink"/>')


def _theme() -> str:
    colors = [("dk1", '<a:sysClr val="windowText" lastClr="000000"/>'),
              ("lt1", '<a:sysClr val="window" lastClr="FFFFFF"/>'),
              ("dk2", '<a:srgbClr val="44546A"/>'), ("lt2", '<a:srgbClr val="E7E6E6"/>'),
              ("accent1", '<a:srgbClr val="4472C4"/>'), ("accent2", '<a:srgbClr val="ED7D31"/>'),
              ("accent3", '<a:srgbClr val="A5A5A5"/>'), ("accent4", '<a:srgbClr val="FFC000"/>'),
              ("accent5", '<a:srgbClr val="5B9BD5"/>'), ("accent6", '<a:srgbClr val="70AD47"/>'),
              ("hlink", '<a:srgbClr val="0563C1"/>'), ("folHlink", '<a:srgbClr val="954F72"/>')]
    fill = '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>'
    line = f'<a:ln w="6350" cap="flat" cmpd="sng" algn="ctr">{fill}<a:prstDash val="solid"/></a:ln>'
    font = '<a:latin typeface="Times New Roman"/><a:ea typeface=""/><a:cs typeface=""/>'
    return (XML_DECL + f'<a:theme xmlns:a="{NS_A}" name="Office Theme"><a:themeElements>'
            '<a:clrScheme name="Office">' + "".join(f"<a:{n}>{c}</a:{n}>" for n, c in colors)
            + '</a:clrScheme><a:fontScheme name="Office">'
            f"<a:majorFont>{font}</a:majorFont><a:minorFont>{font}</a:minorFont></a:fontScheme>"
            f'<a:fmtScheme name="Office"><a:fillStyleLst>{fill * 3}</a:fillStyleLst>'
            f"<a:lnStyleLst>{line * 3}</a:lnStyleLst><a:effectStyleLst>"
            + "<a:effectStyle><a:effectLst/></a:effectStyle>" * 3
            + f"</a:effectStyleLst><a:bgFillStyleLst>{fill * 3}</a:bgFillStyleLst>"
            "</a:fmtScheme></a:themeElements></a:theme>")


def pptx(paragraphs: list[tuple[str, str]]) -> bytes:
    """One slide with one text box; paragraphs are (text, typeface of a:latin)."""
    paras = "".join(
        f'<a:p><a:pPr algn="ctr"/><a:r><a:rPr lang="vi-VN" sz="2400" dirty="0">'
        f'<a:latin typeface="{esc(face)}"/></a:rPr><a:t>{esc(text)}</a:t></a:r></a:p>'
        for text, face in paragraphs)
    slide = (XML_DECL + f"<p:sld {P_NAMESPACES}><p:cSld><p:spTree><p:nvGrpSpPr>"
             '<p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr>'
             '<a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/>'
             '<a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr><p:sp><p:nvSpPr>'
             '<p:cNvPr id="4" name="TextBox 3"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr>'
             '<p:spPr><a:xfrm><a:off x="1524000" y="1397000"/><a:ext cx="6096000" cy="1200329"/>'
             '</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:noFill/></p:spPr>'
             '<p:txBody><a:bodyPr wrap="square" rtlCol="0"><a:spAutoFit/></a:bodyPr>'
             f"<a:lstStyle/>{paras}</p:txBody></p:sp></p:spTree></p:cSld>"
             "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>")
    layout = (XML_DECL + f'<p:sldLayout {P_NAMESPACES} type="blank" preserve="1">'
              '<p:cSld name="Blank">' + _EMPTY_TREE[len("<p:cSld>"):]
              + "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>")
    master = (XML_DECL + f"<p:sldMaster {P_NAMESPACES}>{_EMPTY_TREE}{_CLR_MAP}"
              '<p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/>'
              "</p:sldLayoutIdLst></p:sldMaster>")
    presentation = (XML_DECL + f'<p:presentation {P_NAMESPACES} saveSubsetFonts="1">'
                    '<p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/>'
                    '</p:sldMasterIdLst><p:sldIdLst><p:sldId id="256" r:id="rId2"/>'
                    '</p:sldIdLst><p:sldSz cx="12192000" cy="6858000"/>'
                    '<p:notesSz cx="6858000" cy="9144000"/></p:presentation>')
    ct = "application/vnd.openxmlformats-officedocument.presentationml."
    overrides = {"/ppt/presentation.xml": ct + "presentation.main+xml",
                 "/ppt/slideMasters/slideMaster1.xml": ct + "slideMaster+xml",
                 "/ppt/slideLayouts/slideLayout1.xml": ct + "slideLayout+xml",
                 "/ppt/slides/slide1.xml": ct + "slide+xml",
                 "/ppt/theme/theme1.xml": "application/vnd.openxmlformats-officedocument."
                                          "theme+xml",
                 "/docProps/core.xml": CT_CORE, "/docProps/app.xml": CT_APP}
    return zip_package([
        ("[Content_Types].xml", content_types({}, overrides)),
        ("_rels/.rels", package_rels("ppt/presentation.xml")),
        ("ppt/presentation.xml", presentation),
        ("ppt/_rels/presentation.xml.rels", relationships([
            ("rId1", "slideMaster", "slideMasters/slideMaster1.xml"),
            ("rId2", "slide", "slides/slide1.xml"), ("rId3", "theme", "theme/theme1.xml")])),
        ("ppt/slides/slide1.xml", slide),
        ("ppt/slides/_rels/slide1.xml.rels", relationships([
            ("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml")])),
        ("ppt/slideLayouts/slideLayout1.xml", layout),
        ("ppt/slideLayouts/_rels/slideLayout1.xml.rels", relationships([
            ("rId1", "slideMaster", "../slideMasters/slideMaster1.xml")])),
        ("ppt/slideMasters/slideMaster1.xml", master),
        ("ppt/slideMasters/_rels/slideMaster1.xml.rels", relationships([
            ("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml"),
            ("rId2", "theme", "../theme/theme1.xml")])),
        ("ppt/theme/theme1.xml", _theme()),
        *doc_props("Microsoft Office PowerPoint")])


# ------------------------------------------------------------------------------------------
# ODF (as LibreOffice writes it)
# ------------------------------------------------------------------------------------------

ODF_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" '
    'xmlns:loext="urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"')

# Font faces every fixture declares; styles below refer to them by style:name.
_FONT_FACES = ('<office:font-face-decls>'
               '<style:font-face style:name="Times New Roman" '
               'svg:font-family="&apos;Times New Roman&apos;" '
               'style:font-family-generic="roman" style:font-pitch="variable"/>'
               '<style:font-face style:name=".VnTime" svg:font-family=".VnTime" '
               'style:font-pitch="variable"/>'
               '<style:font-face style:name=".VnTimeH" svg:font-family=".VnTimeH" '
               'style:font-pitch="variable"/>'
               '</office:font-face-decls>')

# P1: centred bold in .VnTimeH (the stamp style of a converted legacy document); P2: body
# text in .VnTime; T1: a span in .VnTimeH; fr1: a frame.
_ODT_STYLES = ('<office:automatic-styles>'
               '<style:style style:name="P1" style:family="paragraph" '
               'style:parent-style-name="Standard"><style:paragraph-properties '
               'fo:text-align="center"/><style:text-properties style:font-name=".VnTimeH" '
               'fo:font-size="13pt" fo:font-weight="bold"/></style:style>'
               '<style:style style:name="P2" style:family="paragraph" '
               'style:parent-style-name="Standard"><style:text-properties '
               'style:font-name=".VnTime" fo:font-size="13pt"/></style:style>'
               '<style:style style:name="T1" style:family="text"><style:text-properties '
               'style:font-name=".VnTimeH"/></style:style>'
               '<style:style style:name="Table1" style:family="table"><style:table-properties '
               'style:width="16cm" table:align="margins"/></style:style>'
               '<style:style style:name="fr1" style:family="graphic" '
               'style:parent-style-name="Frame"><style:graphic-properties '
               'style:wrap="parallel" style:vertical-pos="top" style:vertical-rel="paragraph" '
               'style:horizontal-pos="right" style:horizontal-rel="paragraph" '
               'fo:border="0.06pt solid #000000"/></style:style>'
               '</office:automatic-styles>')


def odf(kind: str, body: str) -> bytes:
    """kind "text" (ODT, `body` inside office:text) or "spreadsheet" (ODS)."""
    media = f"application/vnd.oasis.opendocument.{kind}"
    content = (XML_DECL.replace(' standalone="yes"', "")
               + f'<office:document-content {ODF_NAMESPACES} office:version="1.3">'
               + _FONT_FACES + _ODT_STYLES
               + f"<office:body><office:{kind}>{body}</office:{kind}></office:body>"
               + "</office:document-content>")
    styles = (XML_DECL.replace(' standalone="yes"', "")
              + f'<office:document-styles {ODF_NAMESPACES} office:version="1.3">{_FONT_FACES}'
              '<office:styles><style:default-style style:family="paragraph">'
              '<style:text-properties style:font-name="Times New Roman" fo:language="vi" '
              'fo:country="VN"/></style:default-style><style:style style:name="Standard" '
              'style:family="paragraph" style:class="text"/>'
              '<style:style style:name="Heading_20_1" style:display-name="Heading 1" '
              'style:family="paragraph" style:parent-style-name="Standard" style:class="text">'
              '<style:text-properties fo:font-size="16pt" fo:font-weight="bold"/></style:style>'
              '<style:style style:name="Frame" style:family="graphic"/></office:styles>'
              '</office:document-styles>')
    meta = (XML_DECL.replace(' standalone="yes"', "")
            + f'<office:document-meta {ODF_NAMESPACES} office:version="1.3"><office:meta>'
            "<meta:generator>LibreOffice/7.4.7.2$Linux_X86_64 LibreOffice_project/40$Build-2"
            "</meta:generator><dc:title>Báo cáo</dc:title></office:meta>"
            "</office:document-meta>")
    manifest = (XML_DECL.replace(' standalone="yes"', "")
                + '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
                'manifest:1.0" manifest:version="1.3">'
                f'<manifest:file-entry manifest:full-path="/" manifest:version="1.3" '
                f'manifest:media-type="{media}"/>'
                + "".join(f'<manifest:file-entry manifest:full-path="{p}" '
                          'manifest:media-type="text/xml"/>'
                          for p in ("content.xml", "styles.xml", "meta.xml"))
                + "</manifest:manifest>")
    return zip_package([("mimetype", media), ("content.xml", content), ("styles.xml", styles),
                        ("meta.xml", meta), ("META-INF/manifest.xml", manifest)],
                       stored_first=True)


def odt_p(text: str, style: str = "Standard") -> str:
    return f'<text:p text:style-name="{style}">{esc(text)}</text:p>'


def odf_table(rows: list[list[str]], name: str = "Table1") -> str:
    """A table:table; each cell is the inner XML of a table:table-cell."""
    cols = len(rows[0])
    out = [f'<table:table table:name="{name}" table:style-name="Table1">'
           f'<table:table-column table:number-columns-repeated="{cols}"/>']
    for row in rows:
        out.append("<table:table-row>" + "".join(
            f'<table:table-cell office:value-type="string">{cell}</table:table-cell>'
            for cell in row) + "</table:table-row>")
    out.append("</table:table>")
    return "".join(out)


def odt_frame(*paragraphs: str) -> str:
    """A text frame (draw:frame/draw:text-box) anchored to the paragraph it is written in."""
    return ('<draw:frame draw:style-name="fr1" draw:name="Frame1" text:anchor-type="paragraph" '
            'svg:width="4cm" draw:z-index="0"><draw:text-box fo:min-height="1cm">'
            + "".join(paragraphs) + "</draw:text-box></draw:frame>")


def ods(rows: list[list[str]]) -> bytes:
    cells = []
    for row in rows:
        cells.append("<table:table-row>" + "".join(
            f'<table:table-cell office:value-type="string" calcext:value-type="string">'
            f"<text:p>{esc(v)}</text:p></table:table-cell>" for v in row) + "</table:table-row>")
    body = ('<table:table table:name="Sheet1"><table:table-column '
            f'table:number-columns-repeated="{len(rows[0])}"/>{"".join(cells)}</table:table>')
    return odf("spreadsheet", body)


# ------------------------------------------------------------------------------------------
# RTF, HTML, PDF
# ------------------------------------------------------------------------------------------

def rtf_escape_unicode(text: str) -> str:
    """RTF text as Word writes it: cp1252 characters as \\'xx, the rest as \\uN? (\\uc1)."""
    out = []
    for ch in text:
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\par\n")
        elif ord(ch) < 0x80:
            out.append(ch)
        else:
            try:
                out.append("".join(f"\\'{b:02x}" for b in ch.encode("cp1252")))
            except UnicodeEncodeError:
                code = ord(ch) if ord(ch) < 0x8000 else ord(ch) - 0x10000
                out.append(f"\\u{code}?")
    return "".join(out)


def rtf_escape_bytes(data: bytes) -> str:
    out = []
    for b in data:
        if b >= 0x80:
            out.append(f"\\'{b:02x}")
        elif chr(b) in "\\{}":
            out.append("\\" + chr(b))
        elif b == 0x0A:
            out.append("\\par\n")
        else:
            out.append(chr(b))
    return "".join(out)


def rtf(code_page: int, fonts: list[str], paragraphs: list[tuple[int, str, bool]]) -> bytes:
    """paragraphs: (font index, already escaped text, centred bold)."""
    charset = {1252: 0, 1258: 163}[code_page]
    table = "".join(f"{{\\f{i}\\froman\\fcharset{charset} {f};}}" for i, f in enumerate(fonts))
    body = "".join(
        (f"\\pard\\qc\\b\\f{f}\\fs28 {t}\\b0\\par\n" if stamp else
         f"\\pard\\f{f}\\fs26 {t}\\par\n") for f, t, stamp in paragraphs)
    return (f"{{\\rtf1\\ansi\\ansicpg{code_page}\\deff0\\deflang1066{{\\fonttbl{table}}}\n"
            "{\\*\\generator Msftedit 5.41.21.2510;}\\viewkind4\\uc1\n" + body + "}\n").encode()


def html_entities(text: str) -> str:
    """Non-ASCII as numeric character references, as some mailers write HTML."""
    return "".join(c if ord(c) < 0x80 else f"&#{ord(c)};" for c in esc(text))


def html_doc(body: str, title: str = "Báo cáo") -> str:
    return ('<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title></head>\n<body>\n{body}\n</body></html>\n")


_PDF_SCRIPT = r"""
import sys
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
pdfmetrics.registerFont(TTFont("DejaVuSans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
c = canvas.Canvas(sys.argv[1], pagesize=A4, invariant=1)
y = 780
for line in sys.argv[2:]:
    c.setFont("DejaVuSans", 12)
    c.drawString(72, y, line)
    y -= 20
c.showPage()
c.save()
"""


def _python_with_reportlab() -> str | None:
    for py in (sys.executable, "/usr/bin/python3"):
        if py and os.path.exists(py) and subprocess.run(
                [py, "-c", "import reportlab"], capture_output=True).returncode == 0:
            return py
    return None


def pdf(lines: list[str], workdir: pathlib.Path, legacy_font: str | None = None) -> bytes:
    """A one-page PDF with `lines` as Unicode text (a TrueType font, ToUnicode map), or with
    legacy_font: as TCVN3 bytes in that non-embedded font (WinAnsiEncoding), as a document
    typed in .VnTime exports. tests/data/make_pdf.py when present, else reportlab directly
    (Unicode only)."""
    py = _python_with_reportlab()
    if py is None:
        raise RuntimeError("PDF fixtures need reportlab: install python3-reportlab and "
                           "fonts-dejavu-core (scripts/install-deps.sh)")
    out = workdir / f"tmp-{len(lines)}-{abs(hash(tuple(lines)))}.pdf"
    if MAKE_PDF.exists():
        argv = [py, str(MAKE_PDF), str(out)] + [a for line in lines for a in ("--line", line)]
        if legacy_font:
            argv += ["--font-legacy-bytes", "--legacy-font", legacy_font]
    elif legacy_font:
        raise RuntimeError(f"{MAKE_PDF} is needed for legacy-font PDF fixtures")
    else:
        argv = [py, "-c", _PDF_SCRIPT, str(out), *lines]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {run.stderr.strip()}")
    data = out.read_bytes()
    out.unlink()
    return data


# ------------------------------------------------------------------------------------------
# The matrix
# ------------------------------------------------------------------------------------------

# A distinctive sentence every document carries; it must never reach the decision log.
SECRET = "Các phòng chuyên môn đã hoàn thành nhiệm vụ được giao đúng thời hạn."


def letter(example: str) -> str:
    """An ordinary official letter with `example` on its own line 3: enough Vietnamese prose
    (lower case, so that every legacy encoding can hold it) for the legacy heuristics."""
    return ("Kính gửi: các sở, ban, ngành trong tỉnh.\n"
            "\n"
            f"{example}\n"
            "\n"
            "Thực hiện kế hoạch công tác năm 2024, đơn vị báo cáo kết quả như sau.\n"
            f"{SECRET}\n"
            "Đề nghị các đơn vị phối hợp thực hiện và gửi ý kiến trước ngày 15 tháng 12.\n"
            "Nơi nhận: như trên; lưu văn thư.\n")


EXAMPLE_LINE = 3
ALL_ENCODINGS = ("nfc", "nfd", "cp1258", "tcvn3", "vni")

# (id, example line, marking (degree, kind) or None, encodings it can be written in)
BODY_EXAMPLES = [
    ("mat", "MẬT", ("MẬT", "standalone_line"), ALL_ENCODINGS),
    ("toi_mat", "TỐI MẬT", ("TỐI MẬT", "standalone_line"), ALL_ENCODINGS),
    ("tuyet_mat", "TUYỆT MẬT", ("TUYỆT MẬT", "standalone_line"), ALL_ENCODINGS),
    ("spaced_mat", "M Ậ T", ("MẬT", "standalone_line"), ALL_ENCODINGS),
    ("spaced_toi_mat", "T Ố I  M Ậ T", ("TỐI MẬT", "standalone_line"), ALL_ENCODINGS),
    ("boxed_stars", "*** TỐI MẬT ***", ("TỐI MẬT", "standalone_line"), ALL_ENCODINGS),
    ("box_drawing", "│ MẬT │", ("MẬT", "standalone_line"), ("nfc", "nfd")),
    ("dashes", "-MẬT-", ("MẬT", "standalone_line"), ALL_ENCODINGS),
    ("field_mat", "Độ mật: Mật", ("MẬT", "field"), ALL_ENCODINGS),
    ("field_upper", "ĐỘ MẬT: TUYỆT MẬT", ("TUYỆT MẬT", "field"), ALL_ENCODINGS),
    ("field_table_gap", "Độ mật: Tối mật    Số: 15/BC-UBND", ("TỐI MẬT", "field"),
     ALL_ENCODINGS),
    ("field_fullwidth_colon", "Độ mật：MẬT", ("MẬT", "field"), ("nfc", "nfd")),
    ("neg_mat_khau", "Đề nghị không chia sẻ mật khẩu hộp thư công vụ.", None, ALL_ENCODINGS),
    ("neg_bi_mat", "Thông tin này cần được giữ bí mật trong nội bộ.", None, ALL_ENCODINGS),
    ("neg_mat_ong", "Hội chợ giới thiệu sản phẩm mật ong của huyện.", None, ALL_ENCODINGS),
    ("neg_name", "Nguyễn Văn Mật", None, ALL_ENCODINGS),
    ("neg_place", "Mật Sơn, ngày 20 tháng 11 năm 2024", None, ALL_ENCODINGS),
    ("neg_law_title", "LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC", None, ALL_ENCODINGS),
    ("neg_field_mat_khau", "Độ mật: mật khẩu", None, ALL_ENCODINGS),
    ("neg_sentence_start", "Mật ong rừng được bán tại chợ phiên.", None, ALL_ENCODINGS),
    ("neg_lower_alone", "mật", None, ALL_ENCODINGS),
    ("neg_capitalised_alone", "Mật", None, ALL_ENCODINGS),
    ("neg_title_case", "Tối Mật", None, ALL_ENCODINGS),
    ("neg_digit", "MẬT 2", None, ALL_ENCODINGS),
]

# How a text/plain body is written in each encoding: (bytes of the text, charset label,
# transfer encoding, legacy encoding the check should report or None).
def encode_body(text: str, encoding: str) -> tuple[bytes, str, str, str | None]:
    if encoding == "nfc":
        return nfc(text).encode(), "utf-8", "8bit", None
    if encoding == "nfd":
        return unicodedata.normalize("NFD", text).encode(), "utf-8", "quoted-printable", None
    if encoding == "cp1258":
        return cp1258(text), "windows-1258", "quoted-printable", "windows-1258"
    if encoding == "tcvn3":   # Outlook sends a .VnTime letter pasted as text like this
        return tcvn3(text), "windows-1252", "quoted-printable", "tcvn3"
    if encoding == "vni":
        return vni(text), "iso-8859-1", "8bit", "vni"
    raise ValueError(encoding)


class Matrix:
    def __init__(self, out: pathlib.Path):
        self.out = out
        self.cases: list[dict] = []

    def add(self, name: str, data: bytes, about: str, markings: list[dict],
            legacy: dict | None | str = "unchecked", secrets: list[str] = ()) -> None:
        (self.out / f"{name}.eml").write_bytes(data)
        case = {"file": f"{name}.eml", "about": about,
                "verdict": "quarantine" if markings else "accept", "markings": markings,
                "secrets": list(secrets)}
        if legacy != "unchecked":
            case["legacy"] = legacy
        self.cases.append(case)


def legacy_of(part: str, encoding: str | None) -> dict | None:
    if encoding is None:
        return None
    return {"encodings": [encoding], "parts": [{"part": part, "encoding": encoding}]}


def add_bodies(m: Matrix) -> None:
    for ident, example, marking, encodings in BODY_EXAMPLES:
        for enc in encodings:
            data, charset, cte, legacy = encode_body(letter(example), enc)
            markings = []
            if marking:
                markings = [{"degree": marking[0], "kind": marking[1], "where": "body",
                             "part": "1", "line": EXAMPLE_LINE}]
                if legacy in ("tcvn3", "vni"):
                    markings[0]["encoding"] = legacy
                elif legacy is None:          # Unicode text: nothing was converted
                    markings[0]["encoding"] = None
            subject = "Báo cáo kết quả công tác năm 2024"
            m.add(f"body_{enc}_{ident}",
                  message(f"body-{enc}-{ident}", subject_header(subject),
                          text_leaf(data, charset, cte)),
                  f"text/plain body ({enc}, charset={charset}), line 3: {example!r}",
                  markings, legacy_of("1", legacy), [SECRET])


# (id, Subject header as sent, the decoded subject, marking (degree, kind) or None)
SUBJECTS = [
    ("tag_square", None, "[MẬT] Báo cáo tháng 11", ("MẬT", "subject_tag")),
    ("reply_paren", "q", "Re: (TỐI MẬT) Kế hoạch triển khai", ("TỐI MẬT", "subject_tag")),
    ("reply_spaced", None, "Re: [M Ậ T] Báo cáo", ("MẬT", "subject_tag")),
    ("whole", None, "TUYỆT MẬT", ("TUYỆT MẬT", "standalone_line")),
    ("braces", None, "{MẬT} Công văn số 12", ("MẬT", "subject_tag")),
    ("fullwidth_paren", None, "（TỐI MẬT）Kế hoạch", ("TỐI MẬT", "subject_tag")),
    ("fullwidth_square", None, "［MẬT］ Công văn", ("MẬT", "subject_tag")),
    ("lenticular", None, "【TUYỆT MẬT】 Tờ trình", ("TUYỆT MẬT", "subject_tag")),
    ("split_words", "split", "Fwd: [MẬT] Báo cáo tổng hợp tình hình", ("MẬT", "subject_tag")),
    ("windows1258", "cp1258", "[TỐI MẬT] Báo cáo", ("TỐI MẬT", "subject_tag")),
    ("raw_utf8", "raw", "[MẬT] Báo cáo", ("MẬT", "subject_tag")),
    ("neg_mat_khau", None, "Đổi mật khẩu hộp thư công vụ", None),
    ("neg_mat_ong", None, "Re: Mật ong Bắc Giang", None),
    ("neg_lower_tag", None, "[Mật] Báo cáo", None),
    ("neg_law_title", None, "Fwd: LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC", None),
    ("neg_tag_digit", None, "[MẬT 2] Báo cáo", None),
    ("neg_bi_mat", None, "Bảo vệ bí mật nhà nước trong cơ quan", None),
    ("neg_raw_utf8", "raw", "Báo cáo tháng 11", None),
]


def subject_as_sent(how: str | None, text: str) -> str:
    if how is None:
        return b_word(text)
    if how == "q":
        return q_word(text.encode(), "UTF-8")
    if how == "split":   # a long subject folded over two encoded words, split inside the tag
        cut = text.index("T]")
        return f"{b_word(text[:cut])}\n {b_word(text[cut:])}"
    if how == "cp1258":
        return q_word(cp1258(text), "windows-1258")
    if how == "raw":     # RFC 6532 (SMTPUTF8): UTF-8 in the header itself
        return text
    raise ValueError(how)


def add_subjects(m: Matrix) -> None:
    body = letter("Văn phòng gửi anh chị báo cáo để biết.")
    for ident, how, text, marking in SUBJECTS:
        markings = ([{"degree": marking[0], "kind": marking[1], "where": "subject"}]
                    if marking else [])
        if markings and how != "cp1258":
            markings[0]["encoding"] = None    # UTF-8: nothing was converted
        # A windows-1258 subject may or may not count as legacy text: not pinned here.
        legacy = "unchecked" if how == "cp1258" else None
        m.add(f"subject_{ident}",
              message(f"subject-{ident}", subject_as_sent(how, text),
                      text_leaf(body.encode(), "utf-8")),
              f"Subject {text!r} ({how or 'RFC 2047 B'}), clean body", markings, legacy,
              [SECRET])


def prose_paragraphs(font: str | None = None, encode=None) -> str:
    enc = encode or (lambda s: s)
    return "".join(w_text(enc(s), font=font) for s in (
        "Kính gửi: các sở, ban, ngành trong tỉnh.",
        "Thực hiện kế hoạch công tác năm 2024, đơn vị báo cáo kết quả như sau.",
        SECRET,
        "Đề nghị các đơn vị phối hợp thực hiện và gửi ý kiến trước ngày 15 tháng 12."))


def tcvn3_text(s: str) -> str:
    return reading(tcvn3(s))


def vni_text(s: str) -> str:
    return reading(vni(s))


CT_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CT_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CT_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
CT_ODT = "application/vnd.oasis.opendocument.text"
CT_ODS = "application/vnd.oasis.opendocument.spreadsheet"


def docx_table_cell() -> bytes:
    """TỐI MẬT in the right-hand cell of the letterhead table, split over runs as Word
    splits text it has spell-checked (w:proofErr, a separate run for the space)."""
    stamp = ('<w:p w:rsidR="00A21C4F" w:rsidRDefault="00A21C4F"><w:pPr><w:jc w:val="center"/>'
             '</w:pPr><w:proofErr w:type="spellStart"/>' + w_run("TỐI", bold=True)
             + '<w:proofErr w:type="spellEnd"/>' + w_run(" ", bold=True)
             + w_run("MẬT", bold=True) + "</w:p>")
    head = w_table([[w_text("ỦY BAN NHÂN DÂN TỈNH BẮC GIANG", bold=True, align="center")
                     + w_text("Số: 15/BC-UBND", align="center"), stamp]])
    return docx(head + prose_paragraphs()
                + w_text("Thông tin này cần được giữ bí mật trong nội bộ.")
                + w_text("Nguyễn Văn Mật", align="right") + w_p())


def docx_textbox() -> bytes:
    """MẬT in a floating text box (DrawingML shape with its VML fallback), anchored in the
    first paragraph, which has text of its own."""
    first = w_p(w_textbox_run(w_text("MẬT", bold=True, align="center")),
                w_run("UBND TỈNH BẮC GIANG"))
    return docx(first + prose_paragraphs() + w_p())


def docx_vml_textbox() -> bytes:
    first = w_p(w_vml_textbox_run(w_text("TUYỆT MẬT", bold=True, align="center")),
                w_run("Số: 27/TTr-STC"))
    return docx(first + prose_paragraphs() + w_p())


def docx_header() -> bytes:
    return docx(prose_paragraphs() + w_p(),
                header=w_text("MẬT", bold=True, align="right"))


def docx_field() -> bytes:
    return docx(w_text("BÁO CÁO", bold=True, align="center")
                + w_text("Độ mật: Mật") + prose_paragraphs() + w_p())


def docx_tcvn3() -> bytes:
    """A document typed in the TCVN3 fonts: the stamp in .VnTimeH typed in lower case (only
    the font makes it upper case), the prose in .VnTime, the law's title in .VnTimeH."""
    return docx(w_text(tcvn3_text("tối mật"), font=LEGACY_FONT_TCVN3_UPPER, bold=True,
                       align="center")
                + w_text(tcvn3_text("luật bảo vệ bí mật nhà nước"),
                         font=LEGACY_FONT_TCVN3_UPPER, align="center")
                + prose_paragraphs(LEGACY_FONT_TCVN3, tcvn3_text) + w_p())


def docx_tcvn3_negative() -> bytes:
    """TCVN3 fonts, no stamp: the law's title in .VnTimeH and "bí mật", "mật khẩu" in prose."""
    return docx(w_text(tcvn3_text("luật bảo vệ bí mật nhà nước"),
                       font=LEGACY_FONT_TCVN3_UPPER, bold=True, align="center")
                + w_text(tcvn3_text("Thông tin này cần được giữ bí mật trong nội bộ."),
                         font=LEGACY_FONT_TCVN3)
                + w_text(tcvn3_text("mật"), font=LEGACY_FONT_TCVN3)
                + prose_paragraphs(LEGACY_FONT_TCVN3, tcvn3_text) + w_p())


def docx_vni() -> bytes:
    return docx(w_text(vni_text("MẬT"), font=LEGACY_FONT_VNI, bold=True, align="center")
                + prose_paragraphs(LEGACY_FONT_VNI, vni_text) + w_p())


def docx_negative() -> bytes:
    """Everything that is not a stamp, in a Word document: the law's title as a heading,
    "mật khẩu", "bí mật", the field with "mật khẩu", "Mật" at a sentence start, a name alone
    in a table cell, "MẬT" inside a sentence split over runs."""
    return docx(
        w_text("LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC", bold=True, align="center")
        + w_text("Đề nghị không chia sẻ mật khẩu hộp thư công vụ.")
        + w_text("Độ mật: mật khẩu")
        + w_text("Mật ong rừng được bán tại chợ phiên.")
        + w_p(w_run("Không ghi chữ "), w_run("MẬT", bold=True), w_run(" lên phong bì thường."))
        + w_table([[w_text("Người ký"), w_text("Nguyễn Văn Mật")]])
        + prose_paragraphs() + w_p())


def odt_table_cell() -> bytes:
    body = (odf_table([[odt_p("ỦY BAN NHÂN DÂN TỈNH BẮC GIANG") + odt_p("Số: 15/BC-UBND"),
                        odt_p("MẬT")]])
            + "".join(odt_p(s) for s in ("Kính gửi: các sở, ban, ngành trong tỉnh.", SECRET)))
    return odf("text", body)


def odt_textbox() -> bytes:
    """TỐI MẬT in a frame anchored to a paragraph that has text of its own."""
    body = ('<text:p text:style-name="Standard">'
            + odt_frame(odt_p("TỐI MẬT")) + "UBND TỈNH BẮC GIANG</text:p>"
            + "".join(odt_p(s) for s in ("Kính gửi: các sở, ban, ngành trong tỉnh.", SECRET)))
    return odf("text", body)


def odt_heading_spaced() -> bytes:
    """A spaced-out heading; LibreOffice writes the second of two spaces as text:s."""
    body = ('<text:h text:style-name="Heading_20_1" text:outline-level="1">'
            "T Ố I <text:s/>M Ậ T</text:h>"
            + "".join(odt_p(s) for s in ("Kính gửi: các sở, ban, ngành trong tỉnh.", SECRET)))
    return odf("text", body)


def odt_tcvn3() -> bytes:
    """TCVN3: the stamp in paragraph style P1 (.VnTimeH, typed lower case), the law's title
    in a .VnTimeH span (T1), prose in P2 (.VnTime)."""
    body = (odt_p(tcvn3_text("tuyệt mật"), "P1")
            + '<text:p text:style-name="P2"><text:span text:style-name="T1">'
            + esc(tcvn3_text("luật bảo vệ bí mật nhà nước")) + "</text:span></text:p>"
            + "".join(odt_p(tcvn3_text(s), "P2") for s in (
                "Kính gửi: các sở, ban, ngành trong tỉnh.",
                "Thực hiện kế hoạch công tác năm 2024, đơn vị báo cáo kết quả như sau.",
                SECRET)))
    return odf("text", body)


def odt_negative() -> bytes:
    body = "".join(odt_p(s) for s in (
        "LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC", "Đề nghị không chia sẻ mật khẩu hộp thư công vụ.",
        "Độ mật: mật khẩu", "Mật ong rừng được bán tại chợ phiên.", SECRET))
    body += odf_table([[odt_p("Người ký"), odt_p("Nguyễn Văn Mật")]])
    return odf("text", body)


def pptx_plain() -> bytes:
    return pptx([("BÁO CÁO TÌNH HÌNH", "Times New Roman"), ("TỐI MẬT", "Times New Roman"),
                 (SECRET, "Times New Roman")])


def pptx_tcvn3() -> bytes:
    return pptx([(tcvn3_text("báo cáo tình hình"), ".VnTimeH"), (tcvn3_text("mật"), ".VnTimeH"),
                 (tcvn3_text(SECRET), ".VnTime")])


def rtf_unicode() -> bytes:
    return rtf(1252, ["Times New Roman"],
               [(0, rtf_escape_unicode("MẬT"), True)]
               + [(0, rtf_escape_unicode(s), False) for s in (
                   "Kính gửi: các sở, ban, ngành trong tỉnh.", SECRET)])


def rtf_cp1258() -> bytes:
    return rtf(1258, ["Times New Roman"],
               [(0, rtf_escape_bytes(cp1258("TỐI MẬT")), True)]
               + [(0, rtf_escape_bytes(cp1258(s)), False) for s in (
                   "Kính gửi: các sở, ban, ngành trong tỉnh.", SECRET)])


def rtf_tcvn3() -> bytes:
    return rtf(1252, [".VnTime", ".VnTimeH"],
               [(1, rtf_escape_bytes(tcvn3("tuyệt mật")), True)]
               + [(0, rtf_escape_bytes(tcvn3(s)), False) for s in (
                   "Kính gửi: các sở, ban, ngành trong tỉnh.",
                   "Thực hiện kế hoạch công tác năm 2024, đơn vị báo cáo kết quả như sau.",
                   SECRET)])


def html_table_stamp(stamp: str) -> str:
    return ('<table border="1" style="width:100%"><tr><td style="text-align:center">'
            f"<b>UBND T&#7880;NH B&#7854;C GIANG</b></td><td style=\"text-align:center\">"
            f"<b>{html_entities(stamp)}</b></td></tr></table>\n"
            f"<p>{esc('Kính gửi: các sở, ban, ngành trong tỉnh.')}</p>\n<p>{esc(SECRET)}</p>")


HTML_NEGATIVE = (f"<p>{esc('Đề nghị không chia sẻ')} <b>{esc('MẬT')}</b> {esc('khẩu hộp thư.')}"
                 f"</p>\n<p>{esc('Thông tin cần giữ')} <span>{esc('bí mật')}</span>.</p>\n"
                 f"<h1>{esc('LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC')}</h1>\n<p>{esc(SECRET)}</p>")


def add_documents(m: Matrix, work: pathlib.Path) -> None:
    def attach(name, filename, data, ctype, about, degree=None, kind="standalone_line",
               encoding=None, legacy=None, secrets=(SECRET,)):
        markings = []
        if degree:
            markings = [{"degree": degree, "kind": kind, "where": "attachment", "part": "1/2",
                         "name": filename}]
            if encoding:
                markings[0]["encoding"] = encoding
            elif legacy is None:              # a Unicode document: nothing was converted
                markings[0]["encoding"] = None
        m.add(name, with_attachment(name, "Gửi tài liệu", filename, data, ctype), about,
              markings, legacy_of("1/2", legacy), secrets)

    tsecret = [SECRET, tcvn3_text(SECRET)]
    attach("docx_table_cell", "bao_cao.docx", docx_table_cell(), CT_DOCX,
           "DOCX: TỐI MẬT in a w:tc, split over runs; a name and 'bí mật' in prose", "TỐI MẬT")
    attach("docx_textbox", "to_trinh.docx", docx_textbox(), CT_DOCX,
           "DOCX: MẬT in a text box (mc:AlternateContent: wps:txbx + v:textbox)", "MẬT")
    attach("docx_vml_textbox", "to_trinh_2007.docx", docx_vml_textbox(), CT_DOCX,
           "DOCX: TUYỆT MẬT in a VML text box (w:pict/v:shape/v:textbox)", "TUYỆT MẬT")
    attach("docx_header", "Kế hoạch.docx", docx_header(), CT_DOCX,
           "DOCX: MẬT in word/header1.xml; a Vietnamese file name (RFC 2231)", "MẬT")
    attach("docx_field", "bao_cao_thang.docx", docx_field(), CT_DOCX,
           "DOCX: 'Độ mật: Mật' field paragraph", "MẬT", kind="field")
    attach("docx_tcvn3", "cong_van_vntime.docx", docx_tcvn3(), CT_DOCX,
           "DOCX: TCVN3 'tèi mËt' in a .VnTimeH run (upper case by font), .VnTime prose",
           "TỐI MẬT", encoding="tcvn3", legacy="tcvn3", secrets=tsecret)
    attach("docx_tcvn3_negative", "luat_vntime.docx", docx_tcvn3_negative(), CT_DOCX,
           "DOCX: TCVN3, the law's title in .VnTimeH, 'bí mật' and 'mật' in .VnTime",
           legacy="tcvn3", secrets=tsecret)
    attach("docx_vni", "cong_van_vni.docx", docx_vni(), CT_DOCX,
           "DOCX: VNI 'MAÄT' in VNI-Times runs", "MẬT", encoding="vni", legacy="vni",
           secrets=[SECRET, vni_text(SECRET)])
    attach("docx_negative", "huong_dan.docx", docx_negative(), CT_DOCX,
           "DOCX: law title, 'mật khẩu', 'Độ mật: mật khẩu', 'Mật ong', inline bold MẬT, "
           "a name alone in a cell")
    attach("xlsx_shared_string", "so_lieu.xlsx",
           xlsx([[("s", "ỦY BAN NHÂN DÂN TỈNH BẮC GIANG"), ("s", "TUYỆT MẬT")],
                 [("inline", SECRET), ("n", "42")],
                 [("s", "Mật ong"), ("s", "bí mật")]]), CT_XLSX,
           "XLSX: TUYỆT MẬT in a shared-string cell (t=\"s\")", "TUYỆT MẬT")
    attach("xlsx_inline_string", "bang_ke.xlsx",
           xlsx([[("inline", "Bảng kê kinh phí"), ("inline", "MẬT")],
                 [("s", SECRET), ("n", "3.5")]]), CT_XLSX,
           "XLSX: MẬT in an inline-string cell (t=\"inlineStr\")", "MẬT")
    attach("pptx_plain", "trinh_chieu.pptx", pptx_plain(), CT_PPTX,
           "PPTX: TỐI MẬT as a slide paragraph (a:latin Times New Roman)", "TỐI MẬT")
    attach("pptx_tcvn3", "trinh_chieu_vntime.pptx", pptx_tcvn3(), CT_PPTX,
           "PPTX: TCVN3 'mËt' with a:latin typeface .VnTimeH", "MẬT", encoding="tcvn3",
           legacy="tcvn3", secrets=tsecret)
    attach("odt_table_cell", "bao_cao.odt", odt_table_cell(), CT_ODT,
           "ODT: MẬT in a table:table-cell", "MẬT")
    attach("odt_textbox", "to_trinh.odt", odt_textbox(), CT_ODT,
           "ODT: TỐI MẬT in draw:frame/draw:text-box anchored in a paragraph with text",
           "TỐI MẬT")
    attach("odt_heading_spaced", "thong_bao.odt", odt_heading_spaced(), CT_ODT,
           "ODT: text:h 'T Ố I <text:s/>M Ậ T'", "TỐI MẬT")
    attach("odt_tcvn3", "cong_van_vntime.odt", odt_tcvn3(), CT_ODT,
           "ODT: TCVN3 'tuyÖt mËt' in a paragraph style with style:font-name .VnTimeH",
           "TUYỆT MẬT", encoding="tcvn3", legacy="tcvn3", secrets=tsecret)
    attach("odt_negative", "huong_dan.odt", odt_negative(), CT_ODT,
           "ODT: law title, 'mật khẩu', 'Độ mật: mật khẩu', 'Mật ong', a name in a cell")
    attach("ods_cell", "so_lieu.ods",
           ods([["Ủy ban nhân dân tỉnh", "TUYỆT MẬT"], [SECRET, "bí mật"]]), CT_ODS,
           "ODS: TUYỆT MẬT in a table-cell", "TUYỆT MẬT")
    attach("pdf_unicode", "bao_cao.pdf",
           pdf(["ỦY BAN NHÂN DÂN TỈNH BẮC GIANG", "TỐI MẬT", "BÁO CÁO",
                "Kính gửi: các sở, ban, ngành trong tỉnh.", SECRET], work),
           "application/pdf", "PDF (TrueType, Unicode text): TỐI MẬT line", "TỐI MẬT")
    attach("pdf_negative", "luat.pdf",
           pdf(["LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC", "Đề nghị không chia sẻ mật khẩu hộp thư.",
                "Mật ong rừng được bán tại chợ phiên.", SECRET], work),
           "application/pdf", "PDF: law title, 'mật khẩu', 'Mật ong'")
    attach("pdf_tcvn3", "cong_van_vntime.pdf",
           pdf(["TỐI MẬT", "Kính gửi: các sở, ban, ngành trong tỉnh.",
                "Thực hiện kế hoạch công tác năm 2024, đơn vị báo cáo kết quả như sau.",
                SECRET, "Đề nghị các đơn vị phối hợp thực hiện và gửi ý kiến trước ngày 15."],
               work, legacy_font=LEGACY_FONT_TCVN3),
           "application/pdf", "PDF in a non-embedded .VnTime font: TCVN3 bytes, stamp typed "
           "with Shift ('TèI MËT'), recognised by content", "TỐI MẬT", encoding="tcvn3",
           legacy="tcvn3", secrets=tsecret)
    attach("rtf_unicode", "cong_van.rtf", rtf_unicode(), "application/rtf",
           "RTF (\\ansicpg1252, \\uN escapes): MẬT", "MẬT")
    attach("rtf_cp1258", "cong_van_1258.rtf", rtf_cp1258(), "application/rtf",
           "RTF \\ansicpg1258: TỐI MẬT as Ô+combining acute, Â+combining dot below",
           "TỐI MẬT", legacy="windows-1258")
    attach("rtf_tcvn3", "cong_van_vntime.rtf", rtf_tcvn3(), "application/rtf",
           "RTF with a .VnTimeH font: TCVN3 'tuyÖt mËt'", "TUYỆT MẬT", encoding="tcvn3",
           legacy="tcvn3", secrets=tsecret)
    attach("html_attachment", "thong_bao.html",
           html_doc(html_table_stamp("MẬT")).encode(), "text/html; charset=utf-8",
           "HTML attachment: MẬT in a td, as numeric character references", "MẬT")
    attach("text_attachment", "ghi_chu.txt",
           ("TUYỆT MẬT\n\n" + letter("Ghi chú cuộc họp.")).encode(), "text/plain; charset=utf-8",
           "text/plain attachment: TUYỆT MẬT on line 1", "TUYỆT MẬT")
    m.cases[-1]["markings"][0]["line"] = 1

    # HTML bodies.
    m.add("html_body_table_cell",
          message("html-body", subject_header("Thông báo"),
                  text_leaf(html_doc(html_table_stamp("TỐI MẬT")).encode(), "utf-8",
                            "quoted-printable", "html")),
          "text/html body: TỐI MẬT in a td as numeric character references",
          [{"degree": "TỐI MẬT", "kind": "standalone_line", "where": "body", "part": "1",
            "encoding": None}], None, [SECRET])
    m.add("html_body_negative",
          message("html-negative", subject_header("Hướng dẫn"),
                  text_leaf(html_doc(HTML_NEGATIVE).encode(), "utf-8", "quoted-printable",
                            "html")),
          "text/html body: <b>MẬT</b> inside a sentence, 'bí mật' in a span, law title h1",
          [], None, [SECRET])
    m.add("html_alternative",
          message("html-alternative", subject_header("Báo cáo"), multipart(
              "alternative",
              [text_leaf(letter("MẬT").encode(), "utf-8"),
               text_leaf(html_doc('<p style="text-align:right"><b>M&#7852;T</b></p>\n'
                                  f"<p>{esc(SECRET)}</p>").encode(), "utf-8",
                         "quoted-printable", "html")],
              "=_alt_html-alternative")),
          "multipart/alternative: MẬT line in the text part and in a <p><b> of the HTML part",
          [{"degree": "MẬT", "kind": "standalone_line", "where": "body", "part": "1/1",
            "line": EXAMPLE_LINE, "encoding": None},
           {"degree": "MẬT", "kind": "standalone_line", "where": "body", "part": "1/2",
            "encoding": None}],
          None, [SECRET])


def build(out: pathlib.Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    m = Matrix(out)
    add_bodies(m)
    add_subjects(m)
    add_documents(m, out)
    (out / "manifest.json").write_text(
        json.dumps({"cases": m.cases}, ensure_ascii=False, indent=1) + "\n")
    return m.cases


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cases = build(pathlib.Path(sys.argv[1]))
    positives = sum(1 for c in cases if c["verdict"] == "quarantine")
    print(f"{len(cases)} messages ({positives} with a marking, {len(cases) - positives} "
          f"without) in {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
