// Recognises signed content: CMS blobs (OpenSSL), PDF signature dictionaries (a byte scan),
// signed OOXML/ODF documents (an archive listing).
//
// Distrusted: every byte. CMS input may be garbage, cut short, BER with indefinite lengths,
// or carry certificates with names in any string type and any length; PDF input may be
// damaged anywhere, lack "endobj"/"endstream", hold unbalanced strings or dictionaries,
// or be built to make a scanner backtrack.
//
// Limits: the PDF scan is one forward pass: each keyword finder only ever resumes from
// where it last stopped, so the whole input is searched once per keyword; an object's
// dictionary is tokenised up to kMaxPdfDictionaryBytes, in one pass without backtracking;
// a /Contents hex string is decoded up to kMaxPdfContentsHexBytes; at most
// kMaxPdfSignatures are kept. Certificate names are cut at kMaxNameBytes. OpenSSL bounds its
// own DER parsing; inputs larger than INT_MAX bytes are not handed to it.
//
// Failure: nothing here fails. What cannot be read is reported as such (kUnparsable, or no
// signature), and OpenSSL's error queue is cleared after each use so that a failed parse
// does not leave errors behind for the next OpenSSL caller on this thread.
#include "milter/mime/signature_scan.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <map>
#include <memory>

#include "milter/mime/decoders.h"

namespace mailwarden {
namespace {

constexpr size_t kMaxNameBytes = 256;
constexpr size_t kBase64Probe = 256;  // bytes looked at to call an input base64 text

bool SameLetter(char x, char y) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return lower(x) == lower(y);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), SameLetter);
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

// ---- CMS --------------------------------------------------------------------------------

std::string DecodeBase64(std::string_view text) {
  mime::Base64Decoder decoder;
  std::string out;
  decoder.Feed(text, &out);
  decoder.Finish(&out);
  return out;
}

bool IsBase64Text(std::string_view head) {
  if (head.empty()) return false;
  for (char c : head) {
    bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!alphabet && c != '\r' && c != '\n' && c != ' ' && c != '\t') return false;
  }
  return true;
}

// The DER (or BER) bytes `bytes` stands for: itself when it starts like a SEQUENCE, the
// base64 between PEM armour lines, or the decoding of bare base64 text.
std::string ToDer(std::string_view bytes) {
  if (!bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x30) return std::string(bytes);
  if (bytes.starts_with("-----BEGIN")) {
    size_t body = bytes.find('\n');
    if (body == std::string_view::npos) return "";
    size_t end = bytes.find("-----END", body);
    return DecodeBase64(
        bytes.substr(body + 1, end == std::string_view::npos ? end : end - body - 1));
  }
  if (IsBase64Text(bytes.substr(0, kBase64Probe))) return DecodeBase64(bytes);
  return std::string(bytes);
}

// At most kMaxNameBytes of `s`, not cutting a UTF-8 sequence.
std::string CapName(std::string s) {
  if (s.size() <= kMaxNameBytes) return s;
  size_t cut = kMaxNameBytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

// The first commonName of `name` in UTF-8, or "".
std::string CommonName(const X509_NAME* name) {
  if (name == nullptr) return "";
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0 || utf8 == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return CapName(std::move(out));
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CmsFree {
  void operator()(CMS_ContentInfo* c) const { CMS_ContentInfo_free(c); }
};
struct CertsFree {
  void operator()(STACK_OF(X509) * certs) const { sk_X509_pop_free(certs, X509_free); }
};

void DescribeSigned(CMS_ContentInfo* cms, CmsSummary* out) {
  out->kind = CmsKind::kSigned;
  ASN1_OCTET_STRING** content = CMS_get0_content(cms);
  out->detached = content == nullptr || *content == nullptr;
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  out->signers = infos == nullptr ? 0 : sk_CMS_SignerInfo_num(infos);
  std::unique_ptr<STACK_OF(X509), CertsFree> certs(CMS_get1_certs(cms));
  if (!certs) return;
  for (int i = 0; i < out->signers; ++i) {
    CMS_SignerInfo* info = sk_CMS_SignerInfo_value(infos, i);
    for (int j = 0; j < sk_X509_num(certs.get()); ++j) {
      X509* cert = sk_X509_value(certs.get(), j);
      if (CMS_SignerInfo_cert_cmp(info, cert) != 0) continue;
      out->signer_cn = CommonName(X509_get_subject_name(cert));
      out->issuer_cn = CommonName(X509_get_issuer_name(cert));
      return;
    }
  }
}

CmsSummary DescribeDer(std::string_view der) {
  CmsSummary out;
  if (der.empty() || der.size() > static_cast<size_t>(INT_MAX)) return out;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(der.data(), static_cast<int>(der.size())));
  if (!bio) return out;
  std::unique_ptr<CMS_ContentInfo, CmsFree> cms(d2i_CMS_bio(bio.get(), nullptr));
  if (!cms) return out;
  const ASN1_OBJECT* type = CMS_get0_type(cms.get());
  int nid = OBJ_obj2nid(type);
  char oid[128];
  if (nid != NID_undef) {
    out.content_type = OBJ_nid2sn(nid);
  } else if (OBJ_obj2txt(oid, sizeof oid, type, 1) > 0) {
    out.content_type = oid;
  }
  switch (nid) {
    case NID_pkcs7_signed:
      DescribeSigned(cms.get(), &out);
      break;
    case NID_pkcs7_enveloped:
    case NID_id_smime_ct_authEnvelopedData: {
      out.kind = CmsKind::kEncrypted;
      STACK_OF(CMS_RecipientInfo)* recipients = CMS_get0_RecipientInfos(cms.get());
      out.recipients = recipients == nullptr ? 0 : sk_CMS_RecipientInfo_num(recipients);
      break;
    }
    case NID_pkcs7_encrypted:
      out.kind = CmsKind::kEncrypted;
      break;
    default:
      out.kind = CmsKind::kOther;
  }
  return out;
}

// ---- PDF --------------------------------------------------------------------------------

bool IsPdfWhite(char c) {
  return c == '\0' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

bool IsPdfDelimiter(char c) {
  return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' ||
         c == '}' || c == '/' || c == '%';
}

bool IsRegular(char c) { return !IsPdfWhite(c) && !IsPdfDelimiter(c); }

// Successive occurrences of one keyword, for positions that only grow: a search resumes
// where the previous one ended, so the input is searched once in all.
class KeywordFinder {
 public:
  KeywordFinder(std::string_view text, std::string_view keyword) : text_(text), keyword_(keyword) {}
  // The first occurrence at or after `from`, or npos.
  size_t From(size_t from) {
    if (!searched_ || (found_ != std::string_view::npos && found_ < from)) {
      found_ = text_.find(keyword_, from);
      searched_ = true;
    }
    return found_;
  }

 private:
  std::string_view text_;
  std::string_view keyword_;
  size_t found_ = 0;
  bool searched_ = false;
};

// True when the bytes at `at` are the keyword `word` standing alone: not preceded or
// followed by a regular character ("endobj" is not "obj").
bool IsKeywordAt(std::string_view text, size_t at, size_t length) {
  if (at > 0 && IsRegular(text[at - 1])) return false;
  return at + length >= text.size() || !IsRegular(text[at + length]);
}

enum class TokenType {
  kName,
  kString,
  kHexString,
  kArrayOpen,
  kArrayClose,
  kDictOpen,
  kDictClose,
  kOther
};

struct Token {
  TokenType type = TokenType::kOther;
  std::string_view text;  // names without '/'; hex strings without '<' '>'
};

// Splits a PDF dictionary into tokens, one pass, no backtracking.
class Tokenizer {
 public:
  explicit Tokenizer(std::string_view text) : text_(text) {}

  // The next token; false at the end.
  bool Next(Token* token) {
    const size_t n = text_.size();
    while (at_ < n) {
      char c = text_[at_];
      if (IsPdfWhite(c)) {
        ++at_;
      } else if (c == '%') {
        while (at_ < n && text_[at_] != '\r' && text_[at_] != '\n') ++at_;
      } else {
        break;
      }
    }
    if (at_ >= n) return false;
    size_t start = at_;
    char c = text_[at_];
    if (c == '/') {
      size_t end = at_ + 1;
      while (end < n && IsRegular(text_[end])) ++end;
      *token = {TokenType::kName, text_.substr(start + 1, end - start - 1)};
      at_ = end;
    } else if (c == '(') {
      int depth = 1;
      size_t end = at_ + 1;
      while (end < n && depth > 0) {
        if (text_[end] == '\\') {
          end += 2;
          continue;
        }
        if (text_[end] == '(') ++depth;
        if (text_[end] == ')') --depth;
        ++end;
      }
      end = std::min(end, n);
      *token = {TokenType::kString, text_.substr(start, end - start)};
      at_ = end;
    } else if (c == '<' && at_ + 1 < n && text_[at_ + 1] == '<') {
      *token = {TokenType::kDictOpen, text_.substr(start, 2)};
      at_ += 2;
    } else if (c == '<') {
      size_t close = text_.find('>', at_ + 1);
      size_t end = close == std::string_view::npos ? n : close;
      *token = {TokenType::kHexString, text_.substr(start + 1, end - start - 1)};
      at_ = close == std::string_view::npos ? n : close + 1;
    } else if (c == '>' && at_ + 1 < n && text_[at_ + 1] == '>') {
      *token = {TokenType::kDictClose, text_.substr(start, 2)};
      at_ += 2;
    } else if (c == '[' || c == ']') {
      *token = {c == '[' ? TokenType::kArrayOpen : TokenType::kArrayClose, text_.substr(start, 1)};
      ++at_;
    } else if (!IsRegular(c)) {  // a stray ')', '>', '{' or '}'
      *token = {TokenType::kOther, text_.substr(start, 1)};
      ++at_;
    } else {
      size_t end = at_ + 1;
      while (end < n && IsRegular(text_[end])) ++end;
      *token = {TokenType::kOther, text_.substr(start, end - start)};
      at_ = end;
    }
    return true;
  }

 private:
  std::string_view text_;
  size_t at_ = 0;
};

bool IsSignatureSubFilter(std::string_view name) {
  static constexpr std::string_view kSubFilters[] = {
      "adbe.pkcs7.detached", "adbe.pkcs7.sha1", "adbe.x509.rsa_sha1",
      "ETSI.CAdES.detached", "ETSI.RFC3161",
  };
  return std::find(std::begin(kSubFilters), std::end(kSubFilters), name) != std::end(kSubFilters);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A PDF hex string's bytes: whitespace skipped, other non-hex characters end it, an odd
// final digit is followed by 0 (PDF 7.3.4.3).
std::string DecodeHex(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  int high = -1;
  for (char c : hex) {
    if (IsPdfWhite(c)) continue;
    int v = HexValue(c);
    if (v < 0) break;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) out.push_back(static_cast<char>(high << 4));
  return out;
}

// Judges one object's dictionary part by rules (a) and (b) of the header.
void AnalyseObject(std::string_view dictionary, PdfSignatureScan* scan) {
  bool type_sig = false, byte_range = false, contents = false;
  std::string_view subfilter, contents_hex;
  bool contents_is_hex = false;
  Tokenizer tokenizer(dictionary);
  Token previous, token;
  bool have_previous = false;
  while (tokenizer.Next(&token)) {
    if (have_previous && previous.type == TokenType::kName) {
      std::string_view key = previous.text;
      if ((key == "Type" || key == "FT") && token.type == TokenType::kName && token.text == "Sig") {
        type_sig = true;
      } else if (key == "ByteRange" && token.type == TokenType::kArrayOpen) {
        byte_range = true;
      } else if (key == "Contents" && !contents &&
                 (token.type == TokenType::kString || token.type == TokenType::kHexString)) {
        contents = true;
        contents_is_hex = token.type == TokenType::kHexString;
        contents_hex = token.text;
      } else if (key == "SubFilter" && token.type == TokenType::kName &&
                 IsSignatureSubFilter(token.text) && subfilter.empty()) {
        subfilter = token.text;
      }
    }
    previous = token;
    have_previous = true;
  }
  bool by_dictionary = type_sig && byte_range && contents;
  if (!by_dictionary && subfilter.empty()) return;
  if (scan->signatures.size() >= kMaxPdfSignatures) {
    scan->cut = true;
    return;
  }
  PdfSignature signature;
  signature.subfilter = std::string(subfilter);
  signature.signature_dictionary = by_dictionary;
  if (contents_is_hex && subfilter != "adbe.x509.rsa_sha1" &&
      contents_hex.size() <= kMaxPdfContentsHexBytes) {
    signature.contents_parsed = true;
    signature.cms = DescribeDer(DecodeHex(contents_hex));
  }
  scan->signatures.push_back(std::move(signature));
}

}  // namespace

std::string_view CmsKindName(CmsKind kind) {
  switch (kind) {
    case CmsKind::kSigned:
      return "signed";
    case CmsKind::kEncrypted:
      return "encrypted";
    case CmsKind::kOther:
      return "other";
    case CmsKind::kUnparsable:
      break;
  }
  return "unparsable";
}

CmsSummary DescribeCms(std::string_view bytes) {
  CmsSummary summary = DescribeDer(ToDer(bytes));
  ERR_clear_error();
  return summary;
}

bool LooksLikePdf(std::string_view head) {
  return head.substr(0, 1024).find("%PDF-") != std::string_view::npos;
}

PdfSignatureScan ScanPdfSignatures(std::string_view pdf) {
  PdfSignatureScan scan;
  KeywordFinder obj(pdf, "obj"), stream(pdf, "stream"), endobj(pdf, "endobj"),
      endstream(pdf, "endstream");
  constexpr size_t npos = std::string_view::npos;
  size_t pos = 0;
  while (pos < pdf.size()) {
    size_t o = obj.From(pos);
    if (o == npos) break;
    if (!IsKeywordAt(pdf, o, 3)) {  // "endobj", or "obj" inside a longer word
      pos = o + 3;
      continue;
    }
    size_t body = o + 3;
    size_t s = stream.From(body), e = endobj.From(body);
    size_t end = std::min({s, e, pdf.size()});
    AnalyseObject(pdf.substr(body, std::min(end - body, kMaxPdfDictionaryBytes)), &scan);
    if (s < e && IsKeywordAt(pdf, s, 6)) {
      // Stream data is skipped whole: nothing in it is a dictionary of this object.
      size_t es = endstream.From(s + 6);
      pos = es == npos ? pdf.size() : es + 9;
    } else if (s < e) {
      pos = s + 6;  // "stream" inside a word ("endstream" without a "stream"): damage
    } else {
      pos = e == npos ? pdf.size() : e + 6;
    }
  }
  ERR_clear_error();
  return scan;
}

std::vector<SignedDocument> FindSignedDocuments(const ArchiveListing& listing) {
  static constexpr std::string_view kOdfSignatures = "META-INF/documentsignatures.xml";
  std::vector<SignedDocument> documents;
  std::map<std::string, size_t, std::less<>> roots;  // "" or "<document path>/" -> index
  if (listing.format == "ooxml" || listing.format == "odf") {
    roots.emplace("", documents.size());
    documents.push_back({"", listing.format, 0});
  }
  for (const ArchiveMember& m : listing.members) {
    if (m.archive_format != "ooxml" && m.archive_format != "odf") continue;
    if (roots.emplace(m.path + "/", documents.size()).second) {
      documents.push_back({m.path, m.archive_format, 0});
    }
  }
  if (documents.empty()) return documents;
  for (const ArchiveMember& m : listing.members) {
    if (m.is_dir) continue;
    std::string_view path = m.path;
    size_t slash = path.rfind('/');
    if (slash != std::string_view::npos && slash > 0) {
      std::string_view name = path.substr(slash + 1);
      size_t parent = path.rfind('/', slash - 1);
      size_t dir_start = parent == std::string_view::npos ? 0 : parent + 1;
      std::string_view dir = path.substr(dir_start, slash - dir_start);
      if (EqualsIgnoreCase(dir, "_xmlsignatures") && StartsWithIgnoreCase(name, "sig") &&
          EndsWithIgnoreCase(name, ".xml")) {
        auto root = roots.find(path.substr(0, dir_start));
        if (root != roots.end() && documents[root->second].format == "ooxml") {
          ++documents[root->second].signatures;
        }
      }
    }
    if (path.ends_with(kOdfSignatures)) {
      std::string_view prefix = path.substr(0, path.size() - kOdfSignatures.size());
      auto root = roots.find(prefix);
      if (root != roots.end() && documents[root->second].format == "odf") {
        documents[root->second].signatures = 1;
      }
    }
  }
  std::erase_if(documents, [](const SignedDocument& d) { return d.signatures == 0; });
  return documents;
}

}  // namespace mailwarden
