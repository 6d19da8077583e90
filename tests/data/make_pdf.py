#!/usr/bin/python3
"""Builds PDF test fixtures: Vietnamese text, legacy-font text, many pages, padding, signature.

    python3 tests/data/make_pdf.py OUT.pdf --line "TEXT" [--line "TEXT" ...]
        [--pages N] [--prose-lines K] [--at "X,Y,TEXT" ...]
        [--font-legacy-bytes [--legacy-font NAME] [--latin1-bytes]] [--pad-bytes N] [--signed]
        [--user-password PW] [--owner-password PW]

Every page shows the --line texts from the top down (12 pt, one per line), then K lines of
Vietnamese prose (--prose-lines), then the --at texts at X,Y points from the top-left corner
(to put a stamp beside other text, as a letterhead does). "{page}" in a text becomes the
1-based page number, so each page's text is its own.

Unicode text (the default) is drawn by reportlab in DejaVu Sans, embedded as a subset with a
ToUnicode map, as word processors export it. --user-password / --owner-password encrypt the
file (reportlab's standard encryption, RC4 128-bit); an owner password alone leaves the file
readable without a password, as a "restrictions only" PDF is.

--font-legacy-bytes writes what a document typed in a legacy Vietnamese font turns into: the
text is encoded to TCVN3 bytes (upper-case toned letters as their lower-case bytes, as a
user of an "H" font types them) and shown in a non-embedded TrueType font named
--legacy-font (default ".VnTimeH") with /WinAnsiEncoding, so a reader extracts the
cp1252 reading of the bytes ("MËT" for "MẬT"). With --latin1-bytes the texts are taken as
the bytes themselves, one character U+0000-U+00FF per byte (VNI bytes, say, as
mime::UnicodeToLegacyBytes writes them, with --legacy-font VNI-Times). Such files are
written without reportlab (it cannot name a font freely), and support neither encryption
nor --at/--prose-lines.

--pad-bytes N adds about N bytes of incompressible content: an image of random pixels
(seeded, so the file is reproducible) drawn small on the last page (in a legacy-font file,
a stream object of random bytes). It lets a benchmark build a file of a given size full of
text pages.

--signed appends an incremental update as a signing tool writes it: a signature field
(/FT /Sig widget on page 1, listed in the catalog's /AcroForm with /SigFlags 3) whose value
is a signature dictionary /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached
with /ByteRange [0 a b c] covering the whole file but /Contents, and /Contents a zero-padded
hexadecimal string holding the start of a CMS SignedData. The signature does not verify; it
has the structure of one.

    python3 tests/data/make_pdf.py --batch FILE
makes one PDF per line of FILE, each line the arguments above in shell syntax (one Python
start-up for many fixtures).

Needs python3-reportlab and fonts-dejavu-core (Debian). When run by a Python that lacks
reportlab, the script runs itself again with /usr/bin/python3, where Debian installs it.
"""

import argparse
import io
import importlib.util
import os
import random
import re
import shlex
import sys

FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SYSTEM_PYTHON = "/usr/bin/python3"

PROSE = [
    "Căn cứ Luật Tổ chức Chính phủ ngày 19 tháng 6 năm 2015, trang {page}.",
    "Theo đề nghị của Chánh Văn phòng, các đơn vị báo cáo kết quả thực hiện.",
    "Vui lòng không chia sẻ mật khẩu hộp thư với người khác, kể cả đồng nghiệp.",
    "Hội nghị tổng kết công tác năm được tổ chức tại trụ sở chính của cơ quan.",
    "Đề nghị các phòng ban gửi danh sách cán bộ tham dự trước ngày 15 hằng tháng.",
    "Mọi vướng mắc trong quá trình thực hiện, phản ánh về Văn phòng để tổng hợp.",
]

# TCVN3 (VN3): Unicode letter -> byte, the inverse of milter/mime/vietnamese_text.cc kTcvn3.
_TCVN3_HIGH = (
    " ĂÂÊÔƠƯĐăâêôơưđ "   # 0xA0-0xAF (0xA0 and 0xAF unused)
    "     àảãáạ ằẳẵắ "   # 0xB0-0xBF
    "      ặầẩẫấậè ẻẽ"   # 0xC0-0xCF
    "éẹềểễếệìỉ   ĩíịò"   # 0xD0-0xDF
    " ỏõóọồổỗốộờởỡớợù"   # 0xE0-0xEF
    " ủũúụừửữứựỳỷỹýỵ "   # 0xF0-0xFF
)
TCVN3 = {ch: 0xA0 + i for i, ch in enumerate(_TCVN3_HIGH) if ch != " "}


def tcvn3_bytes(text):
    """Unicode text -> TCVN3 bytes; letters VN3 lacks (upper-case toned) use the lower case."""
    out = bytearray()
    for ch in text:
        if ord(ch) < 0x80:
            out.append(ord(ch))
        elif ch in TCVN3:
            out.append(TCVN3[ch])
        elif ch.lower() in TCVN3:
            out.append(TCVN3[ch.lower()])
        else:
            out += b"?"
    return bytes(out)


def page_text(text, page):
    return text.replace("{page}", str(page))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--line", action="append", default=[], help="a line of text (repeatable)")
    p.add_argument("--pages", type=int, default=1)
    p.add_argument("--prose-lines", type=int, default=0, help="lines of prose after --line")
    p.add_argument("--at", action="append", default=[], help='"X,Y,TEXT" (points, top-left)')
    p.add_argument("--font-legacy-bytes", action="store_true")
    p.add_argument("--legacy-font", default=".VnTimeH")
    p.add_argument("--latin1-bytes", action="store_true")
    p.add_argument("--pad-bytes", type=int, default=0)
    p.add_argument("--signed", action="store_true")
    p.add_argument("--user-password")
    p.add_argument("--owner-password")
    a = p.parse_args(argv)
    if a.pages < 1:
        p.error("--pages must be at least 1")
    encrypted = a.user_password is not None or a.owner_password is not None
    if a.font_legacy_bytes and (encrypted or a.at or a.prose_lines):
        p.error("--font-legacy-bytes supports neither encryption nor --at / --prose-lines")
    if a.signed and encrypted:
        p.error("--signed cannot be combined with encryption")
    return a


def reportlab_pdf(a):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from reportlab import rl_config

    rl_config.useA85 = 0  # binary streams: --pad-bytes N adds N bytes, not 5/4 of them
    pdfmetrics.registerFont(TTFont("DejaVuSans", FONT_PATH))
    encrypt = None
    if a.user_password is not None or a.owner_password is not None:
        from reportlab.lib.pdfencrypt import StandardEncryption
        encrypt = StandardEncryption(a.user_password or "", ownerPassword=a.owner_password,
                                     strength=128)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt, invariant=1)
    width, height = A4
    for page in range(1, a.pages + 1):
        c.setFont("DejaVuSans", 12)
        y = height - 72
        for text in a.line:
            c.drawString(72, y, page_text(text, page))
            y -= 18
        for i in range(a.prose_lines):
            if y < 40:
                break
            c.drawString(40, y, page_text(PROSE[i % len(PROSE)], page) + f" ({i + 1})")
            y -= 14
        for spec in a.at:
            x, yy, text = spec.split(",", 2)
            c.drawString(float(x), height - float(yy), page_text(text, page))
        if page == a.pages and a.pad_bytes > 0:
            side = max(1, int((a.pad_bytes / 3) ** 0.5))
            from PIL import Image
            rnd = random.Random(1)
            img = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
            c.drawImage(ImageReader(img), 500, 20, width=40, height=40)
        c.showPage()
    c.save()
    return buf.getvalue()


def legacy_pdf(a):
    """A plain PDF (no reportlab): Helvetica-like metrics, a TrueType font named freely."""
    objects = []  # bodies; object n is objects[n-1]

    def add(body):
        objects.append(body)
        return len(objects)

    catalog = add(None)
    pages = add(None)
    font = add(b"<< /Type /Font /Subtype /TrueType /BaseFont /" + a.legacy_font.encode("latin-1")
               + b" /FirstChar 32 /LastChar 255 /Widths [" + b" 556" * 224
               + b"] /Encoding /WinAnsiEncoding /FontDescriptor " + str(len(objects) + 2).encode()
               + b" 0 R >>")
    add(b"<< /Type /FontDescriptor /FontName /" + a.legacy_font.encode("latin-1")
        + b" /Flags 32 /FontBBox [-568 -307 2000 1007] /ItalicAngle 0 /Ascent 891"
        b" /Descent -216 /CapHeight 662 /StemV 80 >>")
    kids = []
    for page in range(1, a.pages + 1):
        ops = [b"BT /F1 12 Tf 72 770 Td 18 TL"]
        for text in a.line:
            text = page_text(text, page)
            data = text.encode("latin-1") if a.latin1_bytes else tcvn3_bytes(text)
            data = data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
            ops.append(b"(" + data + b") Tj T*")
        ops.append(b"ET")
        content = b"\n".join(ops)
        stream = add(b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content
                     + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent " + str(pages).encode()
                        + b" 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 "
                        + str(font).encode() + b" 0 R >> >> /Contents " + str(stream).encode()
                        + b" 0 R >>"))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages " + str(pages).encode() + b" 0 R >>"
    objects[pages - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(str(k).encode() + b" 0 R" for k in kids)
                          + b"] /Count " + str(len(kids)).encode() + b" >>")
    if a.pad_bytes > 0:
        pad = random.Random(1).randbytes(a.pad_bytes)
        add(b"<< /Length " + str(len(pad)).encode() + b" >>\nstream\n" + pad + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += str(n).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root "
            + str(catalog).encode() + b" 0 R >>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n")
    return bytes(out)


def object_body(pdf, num):
    """The dictionary text of the last definition of object `num` in `pdf`."""
    matches = list(re.finditer(rb"(?<![0-9])%d 0 obj\s*(<<.*?>>)\s*endobj" % num, pdf, re.S))
    if not matches:
        sys.exit(f"make_pdf: object {num} not found")
    return matches[-1].group(1)


def add_signature(pdf):
    """Appends an incremental update with a signed signature field (see the module doc)."""
    trailer = pdf[pdf.rfind(b"trailer"):]
    root = int(re.search(rb"/Root\s+(\d+)\s+0\s+R", trailer).group(1))
    size = int(re.search(rb"/Size\s+(\d+)", trailer).group(1))
    prev = int(re.search(rb"startxref\s+(\d+)", pdf[pdf.rfind(b"startxref"):]).group(1))
    info = re.search(rb"/Info\s+(\d+)\s+0\s+R", trailer)
    ident = re.search(rb"/ID\s*\[[^\]]*\]", trailer)
    catalog_body = object_body(pdf, root)
    pages_num = int(re.search(rb"/Pages\s+(\d+)\s+0\s+R", catalog_body).group(1))
    first_page = int(re.search(rb"/Kids\s*\[\s*(\d+)\s+0\s+R", object_body(pdf, pages_num)).group(1))
    page_body = object_body(pdf, first_page)

    sig_num, field_num = size, size + 1
    # A CMS ContentInfo of type signedData (1.2.840.113549.1.7.2), the rest zero padding as
    # signing tools reserve it (8 KiB here).
    cms = bytes.fromhex("308006092a864886f70d010702a0803080020101310f300d06096086480165030402010500")
    contents_hex = (cms + bytes(8192 - len(cms))).hex().upper().encode()
    placeholder = b"/ByteRange [0 0000000000 0000000000 0000000000]"
    sig_obj = (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached "
               + placeholder + b" /Contents <" + contents_hex + b"> /M (D:20240115093000+07'00')"
               b" /Name (Nguyen Van A) /Reason (Ky duyet van ban) >>")
    field_obj = (b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /V "
                 + str(sig_num).encode() + b" 0 R /F 132 /Rect [0 0 0 0] /P "
                 + str(first_page).encode() + b" 0 R >>")
    acroform = b" /AcroForm << /Fields [" + str(field_num).encode() + b" 0 R] /SigFlags 3 >>"
    new_catalog = catalog_body[:2] + acroform + catalog_body[2:]
    annots = b" /Annots [" + str(field_num).encode() + b" 0 R]"
    new_page = page_body[:2] + annots + page_body[2:]

    out = bytearray(pdf)
    if not out.endswith(b"\n"):
        out += b"\n"
    offsets = {}
    for num, body in ((sig_num, sig_obj), (field_num, field_obj), (root, new_catalog),
                      (first_page, new_page)):
        offsets[num] = len(out)
        out += str(num).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n"
    for num in sorted(offsets):
        out += b"%d 1\n%010d 00000 n \n" % (num, offsets[num])
    out += b"trailer\n<< /Size " + str(size + 2).encode() + b" /Root " + str(root).encode() + b" 0 R"
    if info:
        out += b" /Info " + info.group(1) + b" 0 R"
    if ident:
        out += b" " + ident.group(0)
    out += b" /Prev " + str(prev).encode() + b" >>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n"

    # The byte range: everything but the <hex> of /Contents (angle brackets included).
    start = out.find(b"/Contents <" + contents_hex[:16], offsets[sig_num]) + len(b"/Contents ")
    end = start + len(contents_hex) + 2
    ranges = b"/ByteRange [0 %010d %010d %010d]" % (start, end, len(out) - end)
    assert len(ranges) == len(placeholder)
    at = out.find(placeholder, offsets[sig_num])
    out[at:at + len(placeholder)] = ranges
    return bytes(out)


def make(argv):
    a = parse_args(argv)
    pdf = legacy_pdf(a) if a.font_legacy_bytes else reportlab_pdf(a)
    if a.signed:
        pdf = add_signature(pdf)
    with open(a.out, "wb") as f:
        f.write(pdf)


def main(argv):
    batch = len(argv) == 2 and argv[0] == "--batch"
    if batch or not any(x == "--font-legacy-bytes" for x in argv):
        if importlib.util.find_spec("reportlab") is None:
            if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
                    os.path.exists(SYSTEM_PYTHON):
                os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + argv)
            sys.exit("make_pdf: reportlab is missing (Debian: apt-get install python3-reportlab)")
        if not os.path.exists(FONT_PATH):
            sys.exit(f"make_pdf: {FONT_PATH} is missing (Debian: fonts-dejavu-core)")
    if batch:
        with open(argv[1], encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    make(shlex.split(line))
    else:
        make(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
