#!/usr/bin/env python3
"""The attachment rules of the shipped rule pack (rules/default.yaml, as scripts/demo.py loads
it) through a real Postfix: what office mail looks like must pass, what REGULATIONS.md M1-M3
forbid must be refused, with the documented replies and decision-log lines.

The documented contract (docs/configuration.md, rules/default.yaml):
* attachment-size: attachments over 15 MiB decoded -> 552 5.3.4 at end of data; an ESMTP
  SIZE= above the base64 size of 15 MiB plus 4 MiB -> 552 5.3.4 at MAIL FROM.
* executable: forbidden final extension of the normalised name (rules/executables.yaml) or
  true type pe/elf/macho/lnk/iso9660, attached, inside archives at every depth (encrypted
  ones too when the listing is readable), in TNEF, in attached messages, uuencoded
  -> 550 5.7.1 naming the file and its part path.
* encrypted-archive: -> 550 5.7.1 "password-protected archives are not accepted ...";
  S/MIME is not an archive.
* macro-document: tagged (verdict header "X-Mailwarden: tag (...) rules=macro-document").
* mime.on_limit_exceeded: 550 5.7.1 naming the limit (mime.max_parts); rule id mime-limits.
* decision log: email.attachments[] with file.name, file.size, file.hash.sha256,
  mailwarden.part, mailwarden.true_type, mailwarden.archive; mailwarden.smtp false for
  local submission.

Fixtures are built at test time: messages with email.message/email.policy.SMTP, archives
with zipfile, `zip -P` and `7z`, S/MIME with `openssl smime`, executables from the
clamav-testfiles package.  A missing tool fails the case with the package to install.

One lab (Postfix + milter) serves the whole module.
"""

import base64
import binascii
import email.message
import email.policy
import email.utils
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import unicodedata
import unittest
import zipfile
import zlib
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

DEFAULT_RULES = mwlab.REPO_ROOT / "rules" / "default.yaml"
CLAM_DIR = Path("/usr/share/clamav-testfiles")
RCPT = "rcpt@example.com"
MiB = 1024 * 1024
VIETNAMESE_NAME = unicodedata.normalize("NFC", "Báo cáo tháng 11.pdf")


# --------------------------------------------------------------------------------------------
# Tools and fixture files
# --------------------------------------------------------------------------------------------

def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} not found: install the Debian package {package} "
                             "(scripts/install-deps.sh)")
    return path


def clam(name: str = "clam.exe") -> Path:
    path = CLAM_DIR / name
    if not path.is_file():
        raise AssertionError(f"{path} not found: install the Debian package clamav-testfiles "
                             "(scripts/install-deps.sh)")
    return path


def run(argv, cwd: Path) -> None:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                             f"{proc.stdout.decode(errors='replace')}"
                             f"{proc.stderr.decode(errors='replace')}")


def make_pdf(title: str = "Quarterly report") -> bytes:
    """A small, valid one-page PDF with a correct xref table."""
    content = f"BT /F1 18 Tf 72 720 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def make_png(width: int = 16, height: int = 16) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack("!I", len(data)) + kind + data
                + struct.pack("!I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# A 1x1 baseline JPEG (JFIF).
JPEG_1X1 = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJ"
    "DRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k=")


def ooxml(content_type: str, parts: dict, overrides: dict | None = None) -> bytes:
    """An OOXML package (zip) with [Content_Types].xml naming the main part's type."""
    main = next(iter(parts))
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" '
          'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
          f'<Override PartName="/{main}" ContentType="{content_type}"/>'
          + "".join(f'<Override PartName="/{k}" ContentType="{v}"/>'
                    for k, v in (overrides or {}).items())
          + "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            f'2006/relationships/officeDocument" Target="{main}"/></Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


WORD_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCUMENT_XML = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:document xmlns:w="{WORD_NS}"><w:body><w:p><w:r><w:t>Biên bản họp'
                '</w:t></w:r></w:p></w:body></w:document>')
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def make_docx() -> bytes:
    return ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                 ".main+xml", {"word/document.xml": DOCUMENT_XML})


def make_docm() -> bytes:
    """A Word document with a VBA project: macroEnabled content type and vbaProject.bin."""
    vba = OLE2_MAGIC + b"\x00" * 504    # an OLE2 header, as vbaProject.bin is
    doc_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                'relationships"><Relationship Id="rId1" Type="http://schemas.microsoft.com/'
                'office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                '</Relationships>')
    return ooxml("application/vnd.ms-word.document.macroEnabled.main+xml",
                 {"word/document.xml": DOCUMENT_XML, "word/_rels/document.xml.rels": doc_rels,
                  "word/vbaProject.bin": vba})


def make_xlsx() -> bytes:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    workbook = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<workbook xmlns="{ns}" xmlns:r="{rel_ns}"><sheets>'
                '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
    wb_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
               'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
               'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
               '</Relationships>')
    sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             f'<worksheet xmlns="{ns}"><sheetData><row r="1"><c r="A1"><v>42</v></c></row>'
             '</sheetData></worksheet>')
    return ooxml("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                 {"xl/workbook.xml": workbook, "xl/_rels/workbook.xml.rels": wb_rels,
                  "xl/worksheets/sheet1.xml": sheet},
                 {"xl/worksheets/sheet1.xml": "application/vnd.openxmlformats-officedocument."
                                              "spreadsheetml.worksheet+xml"})


def zip_of(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def uuencode(name: str, data: bytes) -> str:
    lines = [f"begin 644 {name}"]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45]).decode("ascii").rstrip("\n"))
    lines += ["`", "end"]
    return "\n".join(lines) + "\n"


def make_tnef(files) -> bytes:
    """A TNEF stream (winmail.dat) as Outlook sends with rich-text mail: message attributes,
    then per file attAttachRendData, attAttachTitle and attAttachData; checksums right."""
    def record(level: int, attribute: int, data: bytes) -> bytes:
        return (struct.pack("<BII", level, attribute, len(data)) + data
                + struct.pack("<H", sum(data) & 0xFFFF))
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += record(1, 0x00089006, struct.pack("<I", 0x00010000))        # attTnefVersion
    out += record(1, 0x00069007, struct.pack("<II", 1252, 0))           # attOemCodepage
    out += record(1, 0x00078008, b"IPM.Microsoft Mail.Note\0")          # attMessageClass
    for name, data in files:
        out += record(2, 0x00069002, struct.pack("<HIIHH", 1, 0xFFFFFFFF, 0, 1, 0))
        out += record(2, 0x00018010, name.encode("cp1252") + b"\0")     # attAttachTitle
        out += record(2, 0x0006800F, data)                              # attAttachData
    return out


ICS = """BEGIN:VCALENDAR
PRODID:-//mwlab//attachments test//EN
VERSION:2.0
METHOD:REQUEST
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20261130T080000Z
DTSTART:20261202T020000Z
DTEND:20261202T030000Z
SUMMARY:Giao ban tuan
ORGANIZER;CN=Alice:mailto:{sender}
ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{rcpt}
END:VEVENT
END:VCALENDAR
"""


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------

def new_message(sender: str, subject: str, text: str = "Please find the file attached.\n"
                ) -> email.message.EmailMessage:
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = RCPT
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=mwlab.LAB_DOMAIN)
    msg.set_content(text)
    return msg


def with_attachments(sender: str, subject: str, files, text: str = "Please see attached.\n"
                     ) -> email.message.EmailMessage:
    """files: (name, bytes, "type/subtype") tuples, attached in order (parts 1/2, 1/3...)."""
    msg = new_message(sender, subject, text)
    for name, data, ctype in files:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def raw_message(sender: str, subject: str, mime_headers_and_body: bytes) -> bytes:
    """Envelope-ish headers in front of a MIME entity given as bytes (openssl output...)."""
    head = (f"From: {sender}\nTo: {RCPT}\nSubject: {subject}\n"
            f"Date: {email.utils.formatdate(localtime=True)}\n"
            f"Message-ID: {email.utils.make_msgid(domain=mwlab.LAB_DOMAIN)}\n").encode()
    return crlf(head + mime_headers_and_body)


def many_parts_message(sender: str, parts: int) -> bytes:
    """multipart/mixed with `parts` - 1 tiny text leaves: `parts` MIME entities in all."""
    boundary = "mwlab-many-parts"
    out = [f"From: {sender}", f"To: {RCPT}", "Subject: many parts",
           f"Date: {email.utils.formatdate(localtime=True)}",
           f"Message-ID: {email.utils.make_msgid(domain=mwlab.LAB_DOMAIN)}",
           "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
           "This is a multi-part message in MIME format."]
    for n in range(1, parts):
        out += [f"--{boundary}", "Content-Type: text/plain; charset=us-ascii", "",
                f"part {n}"]
    out += [f"--{boundary}--", ""]
    return "\r\n".join(out).encode()


def rfc2047_attachment_message(sender: str, name: str, data: bytes) -> bytes:
    """What Outlook and many webmailers send: RFC 2047 encoded words inside quoted
    name= / filename= parameters (not RFC 2231)."""
    word = "=?UTF-8?B?" + base64.b64encode(name.encode()).decode() + "?="
    boundary = "mwlab-2047"
    body = base64.encodebytes(data).decode()
    text = "\r\n".join([
        f"From: {sender}", f"To: {RCPT}", "Subject: =?UTF-8?B?"
        + base64.b64encode("Báo cáo".encode()).decode() + "?=",
        f"Date: {email.utils.formatdate(localtime=True)}",
        f"Message-ID: {email.utils.make_msgid(domain=mwlab.LAB_DOMAIN)}",
        "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
        f"--{boundary}", "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64", "",
        base64.encodebytes("Gửi anh báo cáo tháng 11.\n".encode()).decode().strip(),
        f"--{boundary}", f'Content-Type: application/pdf; name="{word}"',
        f'Content-Disposition: attachment; filename="{word}"',
        "Content-Transfer-Encoding: base64", "", body.strip(), f"--{boundary}--", ""])
    return text.encode()


class Fixtures:
    """Archives and S/MIME material made once per module in a directory of the lab."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, bytes] = {}

    def path(self, name: str) -> Path:
        return self.root / name

    def _file(self, name: str, data: bytes) -> Path:
        p = self.path(name)
        p.write_bytes(data)
        return p

    def encrypted_zip(self, member: Path, name: str) -> bytes:
        """zip -P: ZipCrypto, listing readable."""
        key = f"zip:{name}"
        if key not in self._cache:
            zip_bin = require_tool("zip", "zip")
            out = self.path(name)
            out.unlink(missing_ok=True)
            run([zip_bin, "-q", "-j", "-P", "s3cret", out, member], self.root)
            self._cache[key] = out.read_bytes()
        return self._cache[key]

    def encrypted_7z_header(self, member: Path, name: str) -> bytes:
        """7z -p -mhe=on: AES, the listing itself encrypted."""
        key = f"7z:{name}"
        if key not in self._cache:
            seven = require_tool("7z", "p7zip-full")
            out = self.path(name)
            out.unlink(missing_ok=True)
            run([seven, "a", "-bd", "-y", "-ps3cret", "-mhe=on", out, member], self.root)
            self._cache[key] = out.read_bytes()
        return self._cache[key]

    def text_file(self, name: str, text: str) -> Path:
        return self._file(name, text.encode())

    def smime_cert(self) -> tuple[Path, Path]:
        key, cert = self.path("smime.key"), self.path("smime.crt")
        if not cert.exists():
            openssl = require_tool("openssl", "openssl")
            run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", f"/CN=Alice/emailAddress=alice@{mwlab.LAB_DOMAIN}",
                 "-keyout", key, "-out", cert], self.root)
        return key, cert

    def smime(self, operation: str, entity: bytes) -> bytes:
        """openssl cms -sign (multipart/signed with an application/pkcs7-signature part
        smime.p7s) or -encrypt (application/pkcs7-mime; smime-type=enveloped-data, smime.p7m)
        of a MIME entity, as RFC 8551 clients send them; returns MIME headers + body."""
        openssl = require_tool("openssl", "openssl")
        key, cert = self.smime_cert()
        src = self._file(f"smime-{operation}-in.eml", crlf(entity))
        out = self.path(f"smime-{operation}-out.eml")
        if operation == "sign":
            argv = [openssl, "cms", "-sign", "-signer", cert, "-inkey", key, "-md", "sha256"]
        else:
            argv = [openssl, "cms", "-encrypt", "-aes256"]
        argv += ["-in", src, "-out", out]
        if operation == "encrypt":
            argv.append(cert)
        run(argv, self.root)
        return out.read_bytes()


# --------------------------------------------------------------------------------------------
# One lab for the module
# --------------------------------------------------------------------------------------------

_LAB: mwlab.Lab | None = None
_FIXTURES: Fixtures | None = None


def setUpModule():
    global _LAB, _FIXTURES
    # The shipped rule pack only, as the demo and a default installation load it.
    _LAB = mwlab.Lab(milter=True, policyd=False, rule_files=[str(DEFAULT_RULES)],
                     name="attachments")
    _LAB.__enter__()
    _FIXTURES = Fixtures(_LAB.dir / "fixtures")


def tearDownModule():
    if _LAB is not None:
        _LAB.close()


class AttachmentCase(mwlab.LabTestCase, unittest.TestCase):
    """Shares the module's lab; helpers to send a message and judge the outcome."""

    @classmethod
    def setUpClass(cls):
        cls.lab = _LAB
        cls.fx = _FIXTURES

    @classmethod
    def tearDownClass(cls):
        pass

    # ---- sending -----------------------------------------------------------------------

    def send_message(self, sender: str, message: bytes | email.message.EmailMessage,
                     name: str) -> mwlab.SendResult:
        """Sends a complete message with swaks (which adds X-Mwlab-Id: result.token)."""
        data = message.as_bytes() if isinstance(message, email.message.Message) else message
        path = self.fx.path(f"{name}.eml")
        path.write_bytes(crlf(data))
        return self.lab.send(sender, RCPT, data_file=path)

    def decision(self, sender: str) -> dict:
        return self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")

    # ---- outcomes ----------------------------------------------------------------------

    def assertRefused(self, result: mwlab.SendResult, sender: str, code: int, enhanced: str,
                      rule_id: str, *texts: str, stage: str = "dot") -> dict:
        """Refused with code/enhanced naming rule_id (and texts); logged as a reject by
        rule_id; neither delivered nor left in any queue.  Returns the decision line."""
        self.assertReply(result, code, enhanced, stage=stage,
                         text_contains=f"mailwarden rule {rule_id}")
        for t in texts:
            self.assertIn(t, result.reply.text, result)
        entry = self.decision(sender)
        self.assertEqual(mwlab.field_of(entry, "event.action"), "reject", entry)
        self.assertEqual(mwlab.field_of(entry, "rule.id"), rule_id, entry)
        self.assertEqual(mwlab.field_of(entry, "mailwarden.stage"),
                         "mail_from" if stage == "mail" else "eom", entry)
        self.assertIs(mwlab.field_of(entry, "mailwarden.smtp"), True, entry)
        self.assertTrue(mwlab.field_of(entry, "mailwarden.reply", "").startswith(
            f"{code} {enhanced} "), entry)
        self.assertEqual(self.lab.sink.find_token(result.token), [], "refused but delivered")
        self.assertEqual([q for q in self.lab.queue_json() if q.get("sender") == sender], [],
                         "a refused message is in the queue")
        return entry

    def assertDelivered(self, result: mwlab.SendResult, sender: str, action: str = "accept"
                        ) -> tuple[mwlab.SinkMessage, dict]:
        """250 at end of data, delivered to the sink with the verdict header, logged with
        `action`.  Returns (delivered message, decision line)."""
        self.assertReply(result, 250, "2.0.0", stage="dot")
        entry = self.decision(sender)
        self.assertEqual(mwlab.field_of(entry, "event.action"), action,
                         f"{entry}\n{self.lab.diagnostics()}")
        self.assertEqual(mwlab.field_of(entry, "email.local_id"), result.queue_id, entry)
        try:
            delivered = self.lab.sink.wait_for(lambda m: m.token == result.token)
        except TimeoutError:
            self.fail(f"not delivered; queue: {self.lab.queue_json()}\n{self.lab.diagnostics()}")
        if action == "accept":   # clean mail goes on unchanged (verdict_header_on_accept off)
            self.assertNotRegex(delivered.raw.decode("utf-8", "replace"), r"(?m)^X-Mailwarden:")
        else:
            self.assertRegex(delivered.raw.decode("utf-8", "replace"),
                             rf"(?m)^X-Mailwarden: {action} \(")
        return delivered, entry

    def attachments(self, entry: dict) -> list[dict]:
        return mwlab.field_of(entry, "email.attachments") or []

    def attachment_named(self, entry: dict, name: str) -> dict:
        found = [a for a in self.attachments(entry) if mwlab.field_of(a, "file.name") == name]
        self.assertEqual(len(found), 1, f"one attachment named {name!r} in {entry}")
        return found[0]

    def finding_ids(self, entry: dict) -> list[str]:
        """The rules that fired. Log-only findings (action accept: a digital signature
        recognised, a legacy encoding) are statistics, not rules that fired."""
        return sorted(f["rule_id"] for f in mwlab.field_of(entry, "mailwarden.findings", [])
                      if f["action"] != "accept")


# --------------------------------------------------------------------------------------------
# M1: attachment size
# --------------------------------------------------------------------------------------------

class AttachmentSizeTest(AttachmentCase):
    BASE64_15MIB_PLUS_4MIB = (15 * MiB + 56) // 57 * 78 + 4 * MiB   # 25,717,780

    def test_attachments_over_15mib_decoded_refused_after_data(self):
        # 16 MiB decoded: ~21.6 MB of base64, under message-size (25MiB): attachment-size
        # speaks.  Sent without SIZE= (swaks), so only the decoded size can tell.
        sender = self.lab.address("big-attachment")
        msg = with_attachments(sender, "site survey photos",
                               [("survey-raw.bin", os.urandom(16 * MiB),
                                 "application/octet-stream")])
        result = self.send_message(sender, msg, "big-attachment")
        entry = self.assertRefused(result, sender, 552, "5.3.4", "attachment-size")
        self.assertLess(mwlab.field_of(entry, "mailwarden.size"), 25 * MiB, entry)
        self.assertEqual(self.finding_ids(entry), ["attachment-size"], entry)
        att = self.attachment_named(entry, "survey-raw.bin")
        self.assertEqual(mwlab.field_of(att, "file.size"), 16 * MiB, att)

    def test_size_parameter_over_attachment_bound_refused_at_mail_from(self):
        # Above base64(15MiB) + 4MiB but below message-size's 25MiB: attachment-size alone.
        sender = self.lab.address("size-param")
        declared = 26_000_000
        self.assertLess(self.BASE64_15MIB_PLUS_4MIB, declared)
        self.assertLess(declared, 25 * MiB)
        result = self.lab.smtp_send(sender, RCPT, size=declared)
        entry = self.assertRefused(result, sender, 552, "5.3.4", "attachment-size",
                                   stage="mail")
        self.assertEqual(result.replies_at("rcpt"), [], "no RCPT after a refused MAIL FROM")
        self.assertEqual(mwlab.field_of(entry, "mailwarden.announced_size"), declared, entry)
        self.lab.postfix.wait_for_maillog(
            rf"milter-reject: MAIL from .*552 5\.3\.4 .*from=<{sender}>")

    def test_size_parameter_30mb_refused_at_mail_from(self):
        sender = self.lab.address("size-30mb")
        result = self.lab.smtp_send(sender, RCPT, size=30_000_000)
        self.assertReply(result, 552, "5.3.4", stage="mail")
        entry = self.decision(sender)
        self.assertEqual(mwlab.field_of(entry, "mailwarden.stage"), "mail_from", entry)
        # Over both limits: both rules speak, one reply.
        self.assertEqual(self.finding_ids(entry), ["attachment-size", "message-size"], entry)

    def test_size_parameter_that_can_fit_is_accepted(self):
        # 15 MiB of base64 without line breaks + 4 MiB is below any reading of the bound.
        reply = self.lab.mail_from_probe(self.lab.address("size-fits"), 25_000_000)
        self.assertEqual(reply.code, 250, reply)


# --------------------------------------------------------------------------------------------
# M2: executables
# --------------------------------------------------------------------------------------------

class ExecutableTest(AttachmentCase):

    def refuse_exe(self, tag: str, files, *texts: str) -> dict:
        sender = self.lab.address(tag)
        result = self.send_message(sender, with_attachments(sender, tag, files), tag)
        return self.assertRefused(result, sender, 550, "5.7.1", "executable", *texts)

    def test_exe_attached(self):
        exe = clam().read_bytes()
        entry = self.refuse_exe("exe-direct", [("clam.exe", exe, "application/octet-stream")],
                                '"clam.exe"', "at part 1/2")
        # The decision line identifies the file: name, size, SHA-256, part path, true type.
        att = self.attachment_named(entry, "clam.exe")
        self.assertEqual(mwlab.field_of(att, "file.hash.sha256"), hashlib.sha256(exe).hexdigest(),
                         att)
        self.assertEqual(mwlab.field_of(att, "file.size"), len(exe), att)
        self.assertEqual(mwlab.field_of(att, "mailwarden.part"), "1/2", att)
        self.assertEqual(mwlab.field_of(att, "mailwarden.true_type"), "pe", att)

    def test_exe_renamed_to_pdf(self):
        exe = clam().read_bytes()
        entry = self.refuse_exe("exe-renamed", [("invoice.pdf", exe, "application/pdf")],
                                '"invoice.pdf"', "at part 1/2")
        att = self.attachment_named(entry, "invoice.pdf")
        self.assertEqual(mwlab.field_of(att, "mailwarden.true_type"), "pe", att)
        self.assertEqual(mwlab.field_of(att, "file.hash.sha256"),
                         hashlib.sha256(exe).hexdigest(), att)

    def test_double_extension(self):
        # Harmless content: the name alone decides.
        self.refuse_exe("double-ext", [("report.pdf.exe", b"just text, not a program\n",
                                        "application/octet-stream")],
                        '"report.pdf.exe"', "at part 1/2")

    def test_right_to_left_override_name(self):
        # Shown by mail clients as "invoiceexe.pdf"; the name really ends in .exe.
        name = "invoice\u202efdp.exe"
        entry = self.refuse_exe("rtlo", [(name, b"just text, not a program\n",
                                          "application/octet-stream")],
                                '"invoicefdp.exe"', "at part 1/2")
        self.assertNotIn("\u202e", entry["mailwarden"]["reply"], "bidi control in the reply")

    def check_container(self, tag: str, fixture: str, ctype: str, name: str | None = None
                        ) -> dict:
        data = clam(fixture).read_bytes()
        return self.refuse_exe(tag, [(name or fixture, data, ctype)],
                               '"clam.exe"', "at part 1/2:")

    def test_inside_zip(self):
        entry = self.check_container("in-zip", "clam.zip", "application/zip")
        att = self.attachment_named(entry, "clam.zip")
        self.assertEqual(mwlab.field_of(att, "mailwarden.archive.format"), "zip", att)

    def test_inside_7z(self):
        self.check_container("in-7z", "clam.7z", "application/x-7z-compressed")

    def test_inside_cab(self):
        self.check_container("in-cab", "clam.cab", "application/vnd.ms-cab-compressed")

    def test_inside_tar_gz(self):
        self.check_container("in-tar-gz", "clam.tar.gz", "application/gzip")

    def test_renamed_inside_nested_zip(self):
        # outer.zip > inner.zip > readme.txt (a PE): depth and content both judged.
        inner = zip_of({"readme.txt": clam().read_bytes()})
        outer = zip_of({"docs/inner.zip": inner, "notes.txt": b"see inner.zip\n"})
        self.refuse_exe("nested-zip", [("outer.zip", outer, "application/zip")],
                        '"readme.txt"', "at part 1/2:")

    def test_inside_tnef_winmail_dat(self):
        entry = self.refuse_exe("tnef", [("winmail.dat", clam("clam.tnef").read_bytes(),
                                          "application/ms-tnef")], '"clam.exe"', "at part 1/2")
        att = self.attachment_named(entry, "clam.exe")
        self.assertEqual(mwlab.field_of(att, "mailwarden.container"), "tnef", att)
        self.assertEqual(mwlab.field_of(att, "file.hash.sha256"),
                         hashlib.sha256(clam().read_bytes()).hexdigest(), att)

    def test_inside_attached_message(self):
        sender = self.lab.address("in-message")
        inner = with_attachments("someone@example.net", "fwd: the tool",
                                 [("clam.exe", clam().read_bytes(),
                                   "application/octet-stream")])
        outer = new_message(sender, "FW: the tool", "Forwarding as attachment.\n")
        outer.add_attachment(inner)     # message/rfc822
        self.assertEqual(outer.get_payload()[1].get_content_type(), "message/rfc822")
        result = self.send_message(sender, outer, "in-message")
        entry = self.assertRefused(result, sender, 550, "5.7.1", "executable", '"clam.exe"',
                                   "at part 1/2/")
        att = self.attachment_named(entry, "clam.exe")
        self.assertIs(mwlab.field_of(att, "mailwarden.in_attached_message"), True, att)

    def test_uuencoded_in_body(self):
        sender = self.lab.address("uuencoded")
        body = "The program you asked for:\n\n" + uuencode("clam.exe", clam().read_bytes())
        msg = new_message(sender, "the program", body)
        result = self.send_message(sender, msg, "uuencoded")
        entry = self.assertRefused(result, sender, 550, "5.7.1", "executable", '"clam.exe"')
        att = self.attachment_named(entry, "clam.exe")
        self.assertIs(mwlab.field_of(att, "mailwarden.uuencoded"), True, att)
        self.assertEqual(mwlab.field_of(att, "file.hash.sha256"),
                         hashlib.sha256(clam().read_bytes()).hexdigest(), att)

    def test_encrypted_zip_with_exe_named_by_executable_rule(self):
        # The listing of a zip -P archive is readable: the executable rule names the file,
        # and the encrypted-archive rule fires as well.
        data = self.fx.encrypted_zip(clam(), "tool-encrypted.zip")
        entry = self.refuse_exe("enc-zip-exe", [("tool.zip", data, "application/zip")],
                                '"clam.exe"', "at part 1/2:")
        self.assertEqual(self.finding_ids(entry), ["encrypted-archive", "executable"], entry)


# --------------------------------------------------------------------------------------------
# M3: password-protected archives; macro documents; MIME limits
# --------------------------------------------------------------------------------------------

class ArchiveAndLimitsTest(AttachmentCase):

    def test_encrypted_zip_refused(self):
        sender = self.lab.address("enc-zip")
        notes = self.fx.text_file("minutes.txt", "Minutes of the meeting.\n" * 20)
        data = self.fx.encrypted_zip(notes, "minutes-encrypted.zip")
        msg = with_attachments(sender, "minutes", [("minutes.zip", data, "application/zip")],
                               "The password is in the next mail.\n")
        result = self.send_message(sender, msg, "enc-zip")
        entry = self.assertRefused(result, sender, 550, "5.7.1", "encrypted-archive",
                                   "password-protected archives are not accepted",
                                   '"minutes.zip"', "at part 1/2")
        att = self.attachment_named(entry, "minutes.zip")
        self.assertIs(mwlab.field_of(att, "mailwarden.archive.encrypted"), True, att)

    def test_7z_with_encrypted_listing_refused(self):
        sender = self.lab.address("enc-7z")
        notes = self.fx.text_file("plan.txt", "Plan for next year.\n" * 20)
        data = self.fx.encrypted_7z_header(notes, "plan.7z")
        msg = with_attachments(sender, "plan", [("plan.7z", data, "application/x-7z-compressed")])
        result = self.send_message(sender, msg, "enc-7z")
        self.assertRefused(result, sender, 550, "5.7.1", "encrypted-archive",
                           "password-protected archives are not accepted")

    def test_macro_document_tagged_and_delivered(self):
        sender = self.lab.address("docm")
        msg = with_attachments(sender, "template", [
            ("Mau bao cao.docm", make_docm(),
             "application/vnd.ms-word.document.macroEnabled.12")])
        result = self.send_message(sender, msg, "docm")
        delivered, entry = self.assertDelivered(result, sender, action="tag")
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "macro-document", entry)
        self.assertRegex(delivered.raw.decode("utf-8", "replace"),
                         r"(?m)^X-Mailwarden: tag \(.*rules=macro-document")
        att = self.attachment_named(entry, "Mau bao cao.docm")
        self.assertIs(mwlab.field_of(att, "mailwarden.archive.macro_enabled"), True, att)
        # Tagged, not held.
        self.assertEqual([q for q in self.lab.queue_json() if q.get("sender") == sender], [])

    def test_1500_mime_parts_refused_naming_the_limit(self):
        sender = self.lab.address("many-parts")
        result = self.send_message(sender, many_parts_message(sender, 1500), "many-parts")
        entry = self.assertRefused(result, sender, 550, "5.7.1", "mime-limits",
                                   "mime.max_parts")
        limits = mwlab.field_of(entry, "mailwarden.findings")[0]["evidence"]["limits"]
        self.assertIn("mime.max_parts", [x["limit"] for x in limits], entry)


# --------------------------------------------------------------------------------------------
# Office mail that must pass
# --------------------------------------------------------------------------------------------

class CleanOfficeMailTest(AttachmentCase):

    def deliver(self, tag: str, message) -> tuple[mwlab.SinkMessage, dict]:
        sender = self.lab.address(tag)
        msg = message(sender) if callable(message) else message
        result = self.send_message(sender, msg, tag)
        delivered, entry = self.assertDelivered(result, sender)
        self.assertEqual(self.finding_ids(entry), [], entry)
        return delivered, entry

    def deliver_files(self, tag: str, files) -> dict:
        _, entry = self.deliver(tag, lambda s: with_attachments(s, tag, files))
        for name, data, _ in files:
            att = self.attachment_named(entry, name)
            self.assertEqual(mwlab.field_of(att, "file.hash.sha256"),
                             hashlib.sha256(data).hexdigest(), att)
            self.assertTrue(mwlab.field_of(att, "mailwarden.part"), att)
        return entry

    def test_pdf(self):
        self.deliver_files("pdf", [("Quarterly report.pdf", make_pdf(), "application/pdf")])

    def test_docx(self):
        entry = self.deliver_files("docx", [(
            "Minutes.docx", make_docx(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document")])
        att = self.attachment_named(entry, "Minutes.docx")
        self.assertNotIn("macro_enabled", mwlab.field_of(att, "mailwarden.archive", {}), att)

    def test_xlsx(self):
        self.deliver_files("xlsx", [(
            "Budget 2027.xlsx", make_xlsx(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])

    def test_inline_png_and_jpeg(self):
        def build(sender):
            msg = new_message(sender, "newsletter", "Our new logo.\n")
            msg.add_alternative('<html><body><p>Our new logo:</p><img src="cid:logo@mwlab">'
                                '<img src="cid:photo@mwlab"></body></html>', subtype="html")
            html = msg.get_payload()[1]
            html.add_related(make_png(), "image", "png", cid="<logo@mwlab>",
                             filename="logo.png", disposition="inline")
            html.add_related(JPEG_1X1, "image", "jpeg", cid="<photo@mwlab>",
                             filename="photo.jpg", disposition="inline")
            return msg
        _, entry = self.deliver("inline-images", build)
        names = {mwlab.field_of(a, "file.name") for a in self.attachments(entry)}
        self.assertLessEqual({"logo.png", "photo.jpg"}, names, entry)

    def test_zip_of_pdfs(self):
        data = zip_of({"q3-report.pdf": make_pdf("Q3"), "q4-report.pdf": make_pdf("Q4")})
        entry = self.deliver_files("zip-pdfs", [("reports.zip", data, "application/zip")])
        att = self.attachment_named(entry, "reports.zip")
        self.assertEqual(mwlab.field_of(att, "mailwarden.archive.members"), 2, att)
        self.assertNotIn("encrypted", mwlab.field_of(att, "mailwarden.archive", {}), att)

    def test_calendar_invite(self):
        def build(sender):
            msg = new_message(sender, "Meeting: weekly review", "Weekly review, Tuesday 9:00.\n")
            ics = ICS.format(uid=mwlab.new_token() + "@mwlab", sender=sender, rcpt=RCPT)
            msg.add_alternative(ics, subtype="calendar", params={"method": "REQUEST"})
            msg.add_attachment(ics.encode(), maintype="application", subtype="ics",
                               filename="invite.ics")
            return msg
        self.deliver("calendar", build)

    def test_tnef_winmail_dat_with_pdf(self):
        # Outlook rich-text mail: the files travel inside winmail.dat.
        pdf = make_pdf("Rich text")
        _, entry = self.deliver("tnef-clean", lambda s: with_attachments(
            s, "rich text", [("winmail.dat", make_tnef([("report.pdf", pdf)]),
                              "application/ms-tnef")]))
        att = self.attachment_named(entry, "report.pdf")
        self.assertEqual(mwlab.field_of(att, "mailwarden.container"), "tnef", att)
        self.assertEqual(mwlab.field_of(att, "file.hash.sha256"), hashlib.sha256(pdf).hexdigest(),
                         att)

    def test_smime_signed(self):
        def build(sender):
            inner = email.message.MIMEPart(policy=email.policy.SMTP)
            inner.set_content("Signed report attached.\n")
            inner.add_attachment(make_pdf("Signed"), maintype="application", subtype="pdf",
                                 filename="signed-report.pdf")
            signed = self.fx.smime("sign", inner.as_bytes())
            self.assertIn(b"multipart/signed", signed)
            self.assertIn(b"application/pkcs7-signature", signed)
            self.assertIn(b"smime.p7s", signed)
            return raw_message(sender, "signed report", signed)
        _, entry = self.deliver("smime-signed", build)
        names = {mwlab.field_of(a, "file.name") for a in self.attachments(entry)}
        self.assertLessEqual({"smime.p7s", "signed-report.pdf"}, names, entry)

    def test_smime_encrypted_is_not_an_archive(self):
        def build(sender):
            inner = email.message.MIMEPart(policy=email.policy.SMTP)
            inner.set_content("Confidential.\n")
            inner.add_attachment(zip_of({"a.pdf": make_pdf()}), maintype="application",
                                 subtype="zip", filename="a.zip")
            enc = self.fx.smime("encrypt", inner.as_bytes())
            self.assertIn(b"application/pkcs7-mime", enc)
            self.assertIn(b"smime.p7m", enc)
            return raw_message(sender, "confidential", enc)
        _, entry = self.deliver("smime-encrypted", build)
        for att in self.attachments(entry):
            self.assertNotIn("encrypted", mwlab.field_of(att, "mailwarden.archive") or {}, att)

    def test_vietnamese_name_rfc2231(self):
        def build(sender):
            msg = with_attachments(sender, "Báo cáo", [(VIETNAMESE_NAME, make_pdf(),
                                                         "application/pdf")])
            self.assertIn(b"filename*=utf-8''", msg.as_bytes())
            return msg
        _, entry = self.deliver("vi-2231", build)
        att = self.attachment_named(entry, VIETNAMESE_NAME)
        self.assertEqual(mwlab.field_of(att, "file.extension"), "pdf", att)

    def test_vietnamese_name_rfc2047(self):
        _, entry = self.deliver("vi-2047", lambda s: rfc2047_attachment_message(
            s, VIETNAMESE_NAME, make_pdf()))
        self.attachment_named(entry, VIETNAMESE_NAME)


# --------------------------------------------------------------------------------------------
# Local submission: sendmail -> pickup -> cleanup (non_smtpd_milters)
# --------------------------------------------------------------------------------------------

class LocalSubmissionTest(AttachmentCase):

    def test_executable_via_sendmail_is_bounced_not_delivered(self):
        sender = self.lab.address("local-exe")
        token = mwlab.new_token()
        msg = with_attachments(sender, "tool", [("clam.exe", clam().read_bytes(),
                                                 "application/octet-stream")])
        msg["X-Mwlab-Id"] = token
        offset = self.lab.postfix.maillog_offset()
        proc = self.lab.sendmail_local(sender, RCPT, msg.as_bytes())
        # postdrop queued the file before any check ran: sendmail itself succeeds.
        self.assertEqual(proc.returncode, 0, proc.stderr)

        entry = self.decision(sender)
        self.assertEqual(mwlab.field_of(entry, "event.action"), "reject", entry)
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "executable", entry)
        self.assertIs(mwlab.field_of(entry, "mailwarden.smtp"), False, entry)
        att = self.attachment_named(entry, "clam.exe")
        self.assertEqual(mwlab.field_of(att, "file.hash.sha256"),
                         hashlib.sha256(clam().read_bytes()).hexdigest(), att)

        qid = self.lab.postfix.wait_for_maillog(
            r"(\w+): milter-reject: END-OF-MESSAGE from [^:]*: 5\.7\.1 executable files are "
            r"not accepted", since=offset).group(1)
        self.lab.postfix.wait_for_maillog(
            rf"{qid}: to=<{RCPT}>, .*dsn=5\.7\.1, status=bounced", since=offset)
        self.assertEqual(mwlab.field_of(entry, "email.local_id"), qid, entry)
        # The sender gets the non-delivery notice; the recipient gets nothing.
        bounce = self.lab.sink.wait_for(
            lambda m: m.sender == "" and sender in m.recipients
            and b"Status: 5.7.1" in m.raw)
        self.assertIn(b"executable files are not accepted", bounce.raw)
        self.assertEqual(self.lab.sink.find_token(token), [], "the executable was delivered")
        self.lab.wait_for_queue_empty()


if __name__ == "__main__":
    unittest.main(verbosity=2)
