// Zip archives for tests, written by libarchive in memory (deflated members).
#ifndef MAILWARDEN_TESTS_UNIT_ZIP_BUILDER_H_
#define MAILWARDEN_TESTS_UNIT_ZIP_BUILDER_H_

#include <archive.h>
#include <archive_entry.h>

#include <string>
#include <utility>
#include <vector>

namespace mailwarden::testing {

using ZipMembers = std::vector<std::pair<std::string, std::string>>;

// A zip of `members` (name, bytes), in that order.
inline std::string Zip(const ZipMembers& members) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_set_bytes_in_last_block(a, 1);  // no padding after the zip
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& [name, data] : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A minimal Word document whose body is `body` (WordprocessingML paragraphs and tables,
// the "w" prefix bound), plus `extra` members.
inline std::string Docx(const std::string& body, ZipMembers extra = {}) {
  ZipMembers m = {
      {"[Content_Types].xml",
       "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/"
       "content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/"
       "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"},
      {"word/document.xml",
       "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" "
       "xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\" "
       "xmlns:wps=\"http://schemas.microsoft.com/office/word/2010/wordprocessingShape\" "
       "xmlns:v=\"urn:schemas-microsoft-com:vml\"><w:body>" +
           body + "</w:body></w:document>"}};
  for (auto& e : extra) m.push_back(std::move(e));
  return Zip(m);
}

// A WordprocessingML paragraph of one run.
inline std::string WordParagraph(const std::string& text) {
  return "<w:p><w:r><w:t xml:space=\"preserve\">" + text + "</w:t></w:r></w:p>";
}

}  // namespace mailwarden::testing

#endif  // MAILWARDEN_TESTS_UNIT_ZIP_BUILDER_H_
