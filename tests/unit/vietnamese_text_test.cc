// Vietnamese normalisation: NFC, the TCVN3 / VNI / VISCII converters and the detector.
#include "milter/mime/vietnamese_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "milter/mime/header_words.h"

namespace mailwarden::mime {
namespace {

// The latin-1 reading (UTF-8) of raw bytes, as a charset decoder labelled ISO-8859-1 gives.
std::string Latin1(std::string_view bytes) { return ToUtf8(bytes, "ISO-8859-1"); }

// Every Vietnamese letter that is not ASCII, lower and upper case (134 precomposed + đ Đ).
const char* kAllLetters =
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ";
const char* kLowerLetters = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ";

const std::vector<std::string> kSentences = {
    "Cộng hòa xã hội chủ nghĩa Việt Nam",
    "Độc lập - Tự do - Hạnh phúc",
    "Tài liệu này thuộc độ mật, không được gửi qua thư điện tử.",
    "Luật Bảo vệ bí mật nhà nước năm 2018 quy định rõ trách nhiệm.",
    "Vui lòng đổi mật khẩu trước thứ Hai.",
};

TEST(NfcNormalize, ComposesDecomposedToneMarks) {
  EXPECT_EQ(NfcNormalize("Vie\u0302\u0323t"), "Việt");
  EXPECT_EQ(NfcNormalize("M\u0041\u0323\u0302T"), "MẬT");
  EXPECT_EQ(NfcNormalize("TUYE\u0302\u0323T MA\u0302\u0323T"), "TUYỆT MẬT");
  EXPECT_EQ(NfcNormalize("plain"), "plain");
  EXPECT_EQ(NfcNormalize("a\xFF"), "a\uFFFD");
}

TEST(Windows1258, ToUtf8ThenNfcGivesPrecomposedLetters) {
  // windows-1258: Â = 0xC2, Ô = 0xD4, Ê = 0xCA, Đ = 0xD0, combining acute 0xEC, dot 0xF2.
  EXPECT_EQ(NfcNormalize(ToUtf8("M\xC2\xF2T", "windows-1258")), "MẬT");
  EXPECT_EQ(NfcNormalize(ToUtf8("T\xD4\xECI M\xC2\xF2T", "windows-1258")), "TỐI MẬT");
  EXPECT_EQ(NfcNormalize(ToUtf8("TUY\xCA\xF2T M\xC2\xF2T", "windows-1258")), "TUYỆT MẬT");
  EXPECT_EQ(NfcNormalize(ToUtf8("\xD0\xF4\xF2 m\xE2\xF2t", "windows-1258")), "Độ mật");
}

TEST(Tcvn3, KnownBytes) {
  EXPECT_EQ(LegacyToUnicode("ViÖt Nam", LegacyEncoding::kTcvn3), "Việt Nam");
  EXPECT_EQ(LegacyToUnicode("§éc lËp - Tù do - H¹nh phóc", LegacyEncoding::kTcvn3),
            "Độc lập - Tự do - Hạnh phúc");
  EXPECT_EQ(LegacyToUnicode("céng hßa x· héi chñ nghÜa viÖt nam", LegacyEncoding::kTcvn3),
            "cộng hòa xã hội chủ nghĩa việt nam");
  EXPECT_EQ(LegacyBytesToUnicode("Vi\xD6t Nam", LegacyEncoding::kTcvn3), "Việt Nam");
  EXPECT_EQ(UnicodeToLegacyBytes("Việt Nam", LegacyEncoding::kTcvn3), "Vi\xD6t Nam");
}

TEST(Tcvn3, MarkingLetters) {
  // M Ậ T: Ậ has no VN3 code, it is typed as ậ (0xCB, "Ë") in an upper-case font.
  EXPECT_EQ(UnicodeToLegacyBytes("MẬT", LegacyEncoding::kTcvn3), "M\xCBT");
  EXPECT_EQ(UnicodeToLegacyBytes("TỐI MẬT", LegacyEncoding::kTcvn3), "T\xE8I M\xCBT");
  EXPECT_EQ(UnicodeToLegacyBytes("TUYỆT MẬT", LegacyEncoding::kTcvn3), "TUY\xD6T M\xCBT");
  EXPECT_EQ(UnicodeToLegacyBytes("Độ mật", LegacyEncoding::kTcvn3), "\xA7\xE9 m\xCBt");
  EXPECT_EQ(LegacyToUnicode("MËT", LegacyEncoding::kTcvn3), "MẬT");
  EXPECT_EQ(LegacyToUnicode("TèI MËT", LegacyEncoding::kTcvn3), "TỐI MẬT");
  EXPECT_EQ(LegacyToUnicode("TUYÖT MËT", LegacyEncoding::kTcvn3), "TUYỆT MẬT");
  EXPECT_EQ(LegacyToUnicode("§é mËt", LegacyEncoding::kTcvn3), "Độ mật");
}

TEST(Tcvn3, CaseRules) {
  // As stored: toned letters are lower case.
  EXPECT_EQ(LegacyToUnicode("MËT", LegacyEncoding::kTcvn3, TcvnCase::kAsStored), "MậT");
  // Harmonised: a word of upper-case ASCII letters takes its toned letters up; a word
  // without ASCII letters follows its line; mixed-case words stay as stored.
  EXPECT_EQ(LegacyToUnicode("M Ë T", LegacyEncoding::kTcvn3), "M Ậ T");
  EXPECT_EQ(LegacyToUnicode("MËt ong", LegacyEncoding::kTcvn3), "Mật ong");
  EXPECT_EQ(LegacyToUnicode("mËt", LegacyEncoding::kTcvn3), "mật");
  EXPECT_EQ(LegacyToUnicode("§é MËT: TUYÖT MËT", LegacyEncoding::kTcvn3), "ĐỘ MẬT: TUYỆT MẬT");
  // An ".VnTimeH" run typed in lower case: only the font says upper case.
  EXPECT_EQ(LegacyToUnicode("mËt", LegacyEncoding::kTcvn3, TcvnCase::kUpperFont), "MẬT");
  EXPECT_EQ(LegacyToUnicode("céng hßa x· héi chñ nghÜa viÖt nam", LegacyEncoding::kTcvn3,
                            TcvnCase::kUpperFont),
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM");
  EXPECT_TRUE(IsTcvn3UppercaseFont(".VnTimeH"));
  EXPECT_TRUE(IsTcvn3UppercaseFont(".VnArialH"));
  EXPECT_FALSE(IsTcvn3UppercaseFont(".VnTime"));
  EXPECT_FALSE(IsTcvn3UppercaseFont("Times New Roman"));
  EXPECT_FALSE(IsTcvn3UppercaseFont("VNI-Helve"));
}

TEST(Tcvn3, RoundTripsLowerCaseAndBases) {
  const std::string lower = kLowerLetters;
  EXPECT_EQ(LegacyBytesToUnicode(UnicodeToLegacyBytes(lower, LegacyEncoding::kTcvn3),
                                 LegacyEncoding::kTcvn3, TcvnCase::kAsStored),
            lower);
  EXPECT_EQ(LegacyBytesToUnicode(UnicodeToLegacyBytes("ĂÂÊÔƠƯĐ", LegacyEncoding::kTcvn3),
                                 LegacyEncoding::kTcvn3),
            "ĂÂÊÔƠƯĐ");
  for (const std::string& sentence : kSentences) {
    std::string bytes = UnicodeToLegacyBytes(sentence, LegacyEncoding::kTcvn3);
    EXPECT_EQ(bytes.find('?'), std::string::npos) << sentence;
    EXPECT_EQ(LegacyBytesToUnicode(bytes, LegacyEncoding::kTcvn3), sentence);
    EXPECT_EQ(LegacyToUnicode(Latin1(bytes), LegacyEncoding::kTcvn3), sentence);
  }
}

TEST(Vni, KnownBytes) {
  EXPECT_EQ(LegacyToUnicode("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam", LegacyEncoding::kVni),
            "Cộng hòa xã hội chủ nghĩa Việt Nam");
  EXPECT_EQ(LegacyToUnicode("Ñoäc laäp - Töï do - Haïnh phuùc", LegacyEncoding::kVni),
            "Độc lập - Tự do - Hạnh phúc");
  EXPECT_EQ(LegacyToUnicode("ñöôïc nhöõng", LegacyEncoding::kVni), "được những");
  EXPECT_EQ(LegacyToUnicode("Aùnh", LegacyEncoding::kVni), "Ánh");
  EXPECT_EQ(UnicodeToLegacyBytes("Việt Nam", LegacyEncoding::kVni), "Vie\xE4t Nam");
}

TEST(Vni, MarkingLetters) {
  EXPECT_EQ(UnicodeToLegacyBytes("MẬT", LegacyEncoding::kVni), "MA\xC4T");
  EXPECT_EQ(LegacyToUnicode("MAÄT", LegacyEncoding::kVni), "MẬT");
  EXPECT_EQ(LegacyToUnicode("TOÁI MAÄT", LegacyEncoding::kVni), "TỐI MẬT");
  EXPECT_EQ(LegacyToUnicode("TUYEÄT MAÄT", LegacyEncoding::kVni), "TUYỆT MẬT");
  EXPECT_EQ(LegacyToUnicode("Ñoä maät", LegacyEncoding::kVni), "Độ mật");
}

TEST(Vni, RoundTripsEveryLetter) {
  const std::string all = kAllLetters;
  std::string bytes = UnicodeToLegacyBytes(all, LegacyEncoding::kVni);
  EXPECT_EQ(bytes.find('?'), std::string::npos);
  EXPECT_EQ(LegacyBytesToUnicode(bytes, LegacyEncoding::kVni), all);
  for (const std::string& sentence : kSentences) {
    EXPECT_EQ(LegacyToUnicode(Latin1(UnicodeToLegacyBytes(sentence, LegacyEncoding::kVni)),
                              LegacyEncoding::kVni),
              sentence);
  }
}

TEST(Viscii, KnownBytesAndEveryLetter) {
  EXPECT_EQ(LegacyBytesToUnicode("Vi\xAEt Nam", LegacyEncoding::kViscii), "Việt Nam");
  EXPECT_EQ(LegacyBytesToUnicode("M\x87T", LegacyEncoding::kViscii), "MẬT");
  EXPECT_EQ(LegacyBytesToUnicode("T\x8FI M\x87T", LegacyEncoding::kViscii), "TỐI MẬT");
  EXPECT_EQ(LegacyBytesToUnicode("TUY\x8ET M\x87T", LegacyEncoding::kViscii), "TUYỆT MẬT");
  EXPECT_EQ(LegacyBytesToUnicode("\xD0\xB5 m\xA7t", LegacyEncoding::kViscii), "Độ mật");
  // The windows-1252 reading of 0x87 is "‡", of 0x8E "Ž".
  EXPECT_EQ(LegacyToUnicode("M‡T", LegacyEncoding::kViscii), "MẬT");
  EXPECT_EQ(LegacyToUnicode("TUYŽT M‡T", LegacyEncoding::kViscii), "TUYỆT MẬT");
  const std::string all = kAllLetters;
  std::string bytes = UnicodeToLegacyBytes(all, LegacyEncoding::kViscii);
  EXPECT_EQ(bytes.find('?'), std::string::npos);
  EXPECT_EQ(bytes.size(), 134u);
  EXPECT_EQ(LegacyBytesToUnicode(bytes, LegacyEncoding::kViscii), all);
}

TEST(DetectLegacyVietnamese, RecognisesEachEncoding) {
  for (const std::string& sentence : kSentences) {
    EXPECT_EQ(
        DetectLegacyVietnamese(Latin1(UnicodeToLegacyBytes(sentence, LegacyEncoding::kTcvn3))),
        LegacyEncoding::kTcvn3)
        << sentence;
    EXPECT_EQ(DetectLegacyVietnamese(Latin1(UnicodeToLegacyBytes(sentence, LegacyEncoding::kVni))),
              LegacyEncoding::kVni)
        << sentence;
    EXPECT_EQ(DetectLegacyVietnamese(
                  ToUtf8(UnicodeToLegacyBytes(sentence, LegacyEncoding::kViscii), "windows-1252")),
              LegacyEncoding::kViscii)
        << sentence;
  }
  EXPECT_EQ(DetectLegacyVietnamese("ViÖt Nam"), LegacyEncoding::kNone);  // one word: too little
  EXPECT_EQ(DetectLegacyVietnamese("céng hßa x· héi chñ nghÜa viÖt nam"), LegacyEncoding::kTcvn3);
  EXPECT_EQ(DetectLegacyVietnamese("MAÄT"), LegacyEncoding::kVni);
  EXPECT_EQ(DetectLegacyVietnamese("TOÁI MAÄT"), LegacyEncoding::kVni);
}

TEST(DetectLegacyVietnamese, QuietOnWesternTextAndUnicode) {
  const std::vector<std::string> texts = {
      "Où est la bibliothèque ? Déjà vu, une idée naïve, le goût d'août, Noël à l'aéroport.",
      "Il est là, à côté de l'école, près du café.",
      "Schöne Grüße aus München: die Äpfel, das Öl und die Straße wurden geändert.",
      "Señor Muñoz vivía en la mañana con niños pequeños en España, aún con Raúl.",
      "Hello world © 2024 Acme® — “quoted” text, 50% off… ½ price",
      "Cộng hòa xã hội chủ nghĩa Việt Nam. Độc lập - Tự do - Hạnh phúc.",
      "Tài liệu này thuộc độ mật, không gửi qua thư điện tử",
      "Tai lieu nay",
      "",
  };
  for (const std::string& text : texts) {
    EXPECT_EQ(DetectLegacyVietnamese(text), LegacyEncoding::kNone) << text;
  }
  // Decomposed Unicode Vietnamese is Unicode too.
  EXPECT_EQ(DetectLegacyVietnamese("Vie\u0302\u0323t Nam, ca\u0301c ba\u0323n"),
            LegacyEncoding::kNone);
}

}  // namespace
}  // namespace mailwarden::mime
