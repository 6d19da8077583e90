// Reads TNEF (winmail.dat) streams from mail attachments: the record framing here, each
// attachment's MAPI property block with libytnef.
//
// Distrusted: every byte of the input — record sizes (may point past the end, may be
// huge), checksums (may be wrong), the order and repetition of attributes, attachment
// attributes outside any attachment, names (any bytes, any length, any code page) and
// everything inside a MAPI property block (counts, sizes, types, named properties).
//
// Why the framing is ours and not libytnef's TNEFParseMemory() over the whole stream:
// libytnef's record loop stops the whole stream at the first record it dislikes — a wrong
// checksum (clam.tnef has three), a subject or title longer than 100 bytes, an icon over
// 10 KB — so one crafted record ahead of the attachments would hide all of them; it
// allocates what a record header declares before checking the input holds it; and an
// attribute given twice for one attachment leaks the first copy. So this file walks the
// records itself (11 bytes of framing each, sizes checked against what is left), reads
// titles and attachment data straight from the input, and hands libytnef only what it is
// needed for: one attachment's MAPI block at a time, in a well-formed two-record stream
// of its own, parsed into a fresh structure that is freed before the next one. A block
// libytnef rejects costs that attachment its long name (damaged = true), nothing more.
//
// Limits: TnefLimits (files, content bytes kept), kMaxMapiBlockBytes per MAPI block handed
// to libytnef (which itself caps property counts at 1000 and values at 512 KB, so its
// memory is a bounded multiple of the block), kMaxNameBytes per name. Every loop consumes
// input, so time is linear in the input.
//
// Failure: only input without the TNEF signature (or cut before its key) is an error
// (ParseError); damage and limits give a listing with damaged / limit_hit.
#include "milter/mime/tnef.h"

#include <algorithm>
#include <cstdio>  // FILE, used by libytnef's headers
#include <cstring>
#include <optional>
#include <utility>

#include "milter/mime/header_words.h"

// libytnef's headers are C without extern "C", and #define BYTE, WORD, DWORD, ULONG and
// DDWORD as macros: included last so that no other header sees them.
extern "C" {
#include <ytnef.h>
}

namespace mailwarden {
namespace {

constexpr std::string_view kSignature("\x78\x9F\x3E\x22", 4);
constexpr size_t kKeyBytes = 2;
constexpr size_t kRecordHeaderBytes = 9;  // level (1), attribute tag (4), data size (4)
constexpr size_t kChecksumBytes = 2;
constexpr size_t kMaxNameBytes = 4096;
// An attachment's MAPI block holds its long name and at most one data object, which
// libytnef caps at 512 KB: a larger block cannot be one libytnef reads anyway.
constexpr size_t kMaxMapiBlockBytes = 4u << 20;
// The size of attRenddata; its content does not matter to libytnef.
constexpr size_t kRendDataBytes = 14;

// Attribute ids: the low 16 bits of an attribute tag (the high 16 are its data type,
// matched by libytnef but not here, so that a retyped attribute is not overlooked).
constexpr uint16_t kAttAttachData = 0x800F;
constexpr uint16_t kAttAttachTitle = 0x8010;
constexpr uint16_t kAttAttachRendData = 0x9002;
constexpr uint16_t kAttAttachment = 0x9005;  // the attachment's MAPI properties
constexpr uint16_t kAttOemCodepage = 0x9007;

// MAPI property ids.
constexpr unsigned kPrAttachDataObj = 0x3701;
constexpr unsigned kPrAttachFilename = 0x3704;
constexpr unsigned kPrAttachLongFilename = 0x3707;
constexpr size_t kObjectIidBytes = 16;  // PT_OBJECT values start with the object's IID

uint32_t Le32(std::string_view bytes, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
  return b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24;
}

void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutRecord(std::string& out, uint32_t tag, std::string_view data) {
  out.push_back(static_cast<char>(LVL_ATTACHMENT));
  PutLe32(out, tag);
  PutLe32(out, static_cast<uint32_t>(data.size()));
  out.append(data);
  uint16_t sum = 0;
  for (char c : data) sum = static_cast<uint16_t>(sum + static_cast<unsigned char>(c));
  out.push_back(static_cast<char>(sum & 0xFF));
  out.push_back(static_cast<char>(sum >> 8));
}

// The ICU name of a Windows code page; "" (read as UTF-8 by ToUtf8) when unknown.
std::string CharsetOf(uint32_t code_page) {
  if (code_page == 65001) return "UTF-8";
  if (code_page == 20127) return "US-ASCII";
  if (code_page == 874 || (code_page >= 1250 && code_page <= 1258)) {
    return "windows-" + std::to_string(code_page);
  }
  if (code_page == 0 || code_page > 65535) return "";
  return "cp" + std::to_string(code_page);
}

// An 8-bit name: cut at its first NUL and at kMaxNameBytes, converted from `charset`.
std::string Name8(std::string_view bytes, std::string_view charset) {
  bytes = bytes.substr(0, std::min(bytes.find('\0'), kMaxNameBytes));
  return mime::ToUtf8(bytes, charset);
}

// libytnef turns PT_UNICODE values into its own UTF-8: each UTF-16 code unit encoded on
// its own (surrogate halves too, so characters beyond the BMP come out invalid), then a NUL;
// the buffer holds at most 3 bytes per code unit plus the NUL. This undoes that back to
// UTF-16LE, cut at the first NUL code unit, so that ICU pairs the surrogates.
std::string YtnefUnicodeToUtf16Le(const unsigned char* p, size_t cap) {
  std::string u16;
  size_t i = 0;
  while (i < cap && p[i] != 0 && u16.size() < kMaxNameBytes) {
    unsigned lead = p[i];
    size_t n = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 0;
    unsigned unit = n == 1 ? lead : n == 2 ? (lead & 0x1F) : (lead & 0x0F);
    if (n == 0) {  // not something libytnef writes
      unit = 0xFFFD;
      n = 1;
    }
    for (size_t k = 1; k < n; ++k) {
      if (i + k >= cap || (p[i + k] & 0xC0) != 0x80) {
        unit = 0xFFFD;
        n = k;
        break;
      }
      unit = unit << 6 | (p[i + k] & 0x3F);
    }
    u16.push_back(static_cast<char>(unit & 0xFF));
    u16.push_back(static_cast<char>((unit >> 8) & 0xFF));
    i += n;
  }
  return u16;
}

// Owns one libytnef parser structure.
class YtnefParser {
 public:
  YtnefParser() {
    TNEFInitialize(&tnef_);
    tnef_.Debug = 0;  // TNEFInitialize leaves it unset; anything above 0 prints to stdout
  }
  ~YtnefParser() { TNEFFree(&tnef_); }
  YtnefParser(const YtnefParser&) = delete;
  YtnefParser& operator=(const YtnefParser&) = delete;
  TNEFStruct* get() { return &tnef_; }

 private:
  TNEFStruct tnef_{};
};

// A MAPI value as libytnef left it, or nullptr. libytnef reports "absent" as
// MAPI_UNDEFINED ((variableLength*)-1), not nullptr, and leaves data null for a value it
// gave up on halfway.
const variableLength* FindValue(MAPIProps* props, unsigned type, unsigned id) {
  variableLength* v = MAPIFindProperty(props, PROP_TAG(type, id));
  if (v == MAPI_UNDEFINED || v == nullptr || v->data == nullptr || v->size <= 0) return nullptr;
  return v;
}

// A name property, Unicode preferred over 8-bit; "" when absent.
std::string NameProperty(MAPIProps* props, unsigned id, std::string_view charset) {
  if (const variableLength* v = FindValue(props, PT_UNICODE, id)) {
    size_t units = static_cast<size_t>(v->size) / 2;
    std::string u16 = YtnefUnicodeToUtf16Le(v->data, 3 * units + 1);
    if (!u16.empty()) return mime::ToUtf8(u16, "UTF-16LE");
  }
  if (const variableLength* v = FindValue(props, PT_STRING8, id)) {
    return Name8(std::string_view(reinterpret_cast<const char*>(v->data),
                                  static_cast<size_t>(v->size)),
                 charset);
  }
  return "";
}

// What one attachment's MAPI block says.
struct MapiFacts {
  bool readable = false;  // libytnef read the whole block
  std::string long_name;
  std::string short_name;  // PR_ATTACH_FILENAME
  std::optional<std::string> object;  // PR_ATTACH_DATA_OBJ
};

// Reads an attachment's MAPI block with libytnef: a stream of its own (signature, key, an
// attRenddata so that libytnef has an attachment to fill, then the block) parsed into a
// fresh structure. Properties read before a failure are still used.
MapiFacts ReadMapiBlock(std::string_view block, std::string_view charset) {
  MapiFacts facts;
  std::string stream(kSignature);
  stream.append(kKeyBytes, '\0');
  PutRecord(stream, attAttachRenddata, std::string(kRendDataBytes, '\0'));
  PutRecord(stream, attAttachment, block);

  YtnefParser parser;
  TNEFStruct* tnef = parser.get();
  // Records above attachmentSize MiB are refused; ours are at most kMaxMapiBlockBytes.
  tnef->attachmentSize = static_cast<int>(block.size() >> 20) + 1;
  // TNEFParseMemory takes a non-const buffer; it only reads it.
  int rc = TNEFParseMemory(reinterpret_cast<unsigned char*>(stream.data()),
                           static_cast<long>(stream.size()), tnef);
  facts.readable = rc == 0;
  Attachment* attachment = tnef->starting_attach.next;
  if (attachment == nullptr) return facts;
  MAPIProps* props = &attachment->MAPI;
  facts.long_name = NameProperty(props, kPrAttachLongFilename, charset);
  facts.short_name = NameProperty(props, kPrAttachFilename, charset);
  if (const variableLength* v = FindValue(props, PT_OBJECT, kPrAttachDataObj)) {
    std::string_view data(reinterpret_cast<const char*>(v->data), static_cast<size_t>(v->size));
    facts.object = std::string(data.size() >= kObjectIidBytes ? data.substr(kObjectIidBytes) : data);
  } else if (const variableLength* b = FindValue(props, PT_BINARY, kPrAttachDataObj)) {
    facts.object = std::string(reinterpret_cast<const char*>(b->data), static_cast<size_t>(b->size));
  }
  return facts;
}

// One attachment as the walk gathers it, until the next one starts.
struct PendingFile {
  std::optional<std::string_view> title;
  std::optional<std::string_view> data;
  bool data_cut_short = false;
  std::optional<MapiFacts> mapi;
};

struct Walk {
  const TnefLimits& limits;
  TnefContents& out;
  std::string charset{};  // of 8-bit names, from attOemCodepage
  std::optional<PendingFile> pending{};
  uint64_t kept_bytes = 0;
  bool stopped = false;

  void Hit(const char* name) {
    out.limit_hit = true;
    out.limit_name = name;
    stopped = true;
  }

  // Appends one file, keeping what fits in max_total_bytes.
  void Emit(const std::string& name, std::string_view content, bool truncated) {
    TnefFile file;
    file.name = name;
    file.truncated = truncated;
    uint64_t room = limits.max_total_bytes - std::min(limits.max_total_bytes, kept_bytes);
    if (content.size() > room) {
      content = content.substr(0, room);
      file.truncated = true;
      Hit("max_total_bytes");
    }
    kept_bytes += content.size();
    file.content = std::string(content);
    out.files.push_back(std::move(file));
  }

  // Lists the pending attachment, if any. An attachment with both attAttachData and a
  // PR_ATTACH_DATA_OBJ gives two files of the same name: clients differ on which one they
  // show, so neither may hide the other.
  void Finish() {
    if (!pending) return;
    PendingFile p = std::move(*pending);
    pending.reset();
    std::string name;
    if (p.mapi && !p.mapi->long_name.empty()) {
      name = p.mapi->long_name;
    } else if (p.title) {
      name = Name8(*p.title, charset);
    }
    if (name.empty() && p.mapi) name = p.mapi->short_name;
    const bool has_object = p.mapi && p.mapi->object;
    if (p.data || !has_object) {
      Emit(name, p.data.value_or(std::string_view()), p.data_cut_short);
    }
    if (has_object && !stopped) {
      if (p.data && out.files.size() >= limits.max_files) {
        Hit("max_files");
        return;
      }
      Emit(name, *p.mapi->object, false);
    }
  }

  // Starts a new attachment (after listing the pending one), unless a limit forbids it.
  bool Start() {
    Finish();
    if (stopped) return false;
    if (out.files.size() >= limits.max_files) {
      Hit("max_files");
      return false;
    }
    pending.emplace();
    return true;
  }

  // The pending attachment, or a new one when there is none or when it already has the
  // attribute `has` tests: an attribute given twice starts a file of its own, so that a
  // second copy of the data is listed rather than silently dropped or overwritten.
  template <typename Has>
  PendingFile* Current(Has has) {
    if (pending && !has(*pending)) return &*pending;
    return Start() ? &*pending : nullptr;
  }

  void Record(uint16_t id, std::string_view data, bool cut_short) {
    switch (id) {
      case kAttOemCodepage:
        if (data.size() >= 4) charset = CharsetOf(Le32(data, 0));
        break;
      case kAttAttachRendData:  // the first attribute of every attachment
        Start();
        break;
      case kAttAttachTitle:
        if (PendingFile* p = Current([](const PendingFile& f) { return f.title.has_value(); })) {
          p->title = data;
        }
        break;
      case kAttAttachData:
        if (PendingFile* p = Current([](const PendingFile& f) { return f.data.has_value(); })) {
          p->data = data;
          p->data_cut_short = cut_short;
        }
        break;
      case kAttAttachment:
        if (PendingFile* p = Current([](const PendingFile& f) { return f.mapi.has_value(); })) {
          if (cut_short || data.size() > kMaxMapiBlockBytes) {
            p->mapi.emplace();  // unread: the file keeps its title
            out.damaged = true;
          } else {
            p->mapi = ReadMapiBlock(data, charset);
            if (!p->mapi->readable) out.damaged = true;
          }
        }
        break;
      default:  // message-level attributes: not needed to list the files
        break;
    }
  }
};

}  // namespace

bool LooksLikeTnef(std::string_view head) { return head.starts_with(kSignature); }

Result<TnefContents> ReadTnef(std::string_view bytes, const TnefLimits& limits) {
  if (!LooksLikeTnef(bytes)) {
    return Status::ParseError("not TNEF: no signature 0x223E9F78");
  }
  if (bytes.size() < kSignature.size() + kKeyBytes) {
    return Status::ParseError("TNEF stream cut short before its key");
  }
  TnefContents out;
  Walk walk{limits, out};
  size_t at = kSignature.size() + kKeyBytes;
  while (at < bytes.size() && !walk.stopped) {
    // Fewer bytes than a record header cannot hold a record, so nothing is hidden there:
    // mailers pad the stream with a line end (clam.tnef ends with one), which is no damage.
    if (bytes.size() - at < kRecordHeaderBytes) break;
    uint32_t tag = Le32(bytes, at + 1);
    uint32_t size = Le32(bytes, at + 5);
    at += kRecordHeaderBytes;
    size_t left = bytes.size() - at;
    bool cut_short = size > left || left - size < kChecksumBytes;
    std::string_view data = bytes.substr(at, std::min<size_t>(size, left));
    // The checksum is not checked: see the top of this file.
    at = cut_short ? bytes.size() : at + size + kChecksumBytes;
    if (cut_short) out.damaged = true;
    walk.Record(static_cast<uint16_t>(tag & 0xFFFF), data, cut_short);
  }
  walk.Finish();
  return out;
}

}  // namespace mailwarden
