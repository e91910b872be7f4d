// D4: the bounded reader: regular files only, within a size, never blocking on a FIFO.
#include "core/read_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/text.h"

namespace tlsgate {
namespace {

class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           concat({"tlsgate-read-file-", std::to_string(::getpid())});
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  void write(const char* name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
  }

  std::filesystem::path dir_;
};

TEST_F(ReadFileTest, ReadsARegularFileUpToItsLimit) {
  write("f", "12345");
  auto text = readFile(path("f"), 5);
  ASSERT_TRUE(text) << text.error().toString();
  EXPECT_EQ(*text, "12345");
}

TEST_F(ReadFileTest, RefusesAFileOverItsLimit) {
  write("f", "123456");
  auto text = readFile(path("f"), 5);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().toString(), path("f") + ": larger than 5 bytes");
}

TEST_F(ReadFileTest, RefusesAFifoWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  auto text = readFile(path("fifo"), 1 << 20);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().toString(), path("fifo") + ": not a regular file");
}

TEST_F(ReadFileTest, RefusesADevice) {
  auto text = readFile("/dev/zero", 1 << 20);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().toString(), "/dev/zero: not a regular file");
}

TEST_F(ReadFileTest, RefusesAHugeSparseFileBeforeReadingIt) {
  std::ofstream(path("sparse")).put('x');  // a temporary: closed at the end of the line
  std::filesystem::resize_file(path("sparse"), std::uintmax_t{4} << 30);
  auto text = readFile(path("sparse"), 64 << 20);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().message, "larger than 67108864 bytes");
}

TEST_F(ReadFileTest, MissingFileAndDirectorySayWhy) {
  auto missing = readFile(path("none"), 10);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "cannot read: No such file or directory");
  auto dir = readFile(dir_.string(), 10);
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().message, "cannot read: Is a directory");
}

// Config messages echo values short and printable.
TEST(Printable, TruncatesAndEscapes) {
  EXPECT_EQ(inQuotes("a\x01\x1b[b\xff"), "'a\\x01\\x1b[b\\xff'");
  const std::string longValue(1 << 20, 'A');
  EXPECT_EQ(inQuotes(longValue), "'" + std::string(80, 'A') + "\u2026'");
  EXPECT_EQ(inQuotes(std::string(80, 'B')), "'" + std::string(80, 'B') + "'");
}

}  // namespace
}  // namespace tlsgate
