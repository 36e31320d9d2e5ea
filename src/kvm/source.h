// Read-only random-access byte sources: a file on disk, or a logical file
// assembled from a makedumpfile flattened stream. Inputs are opened
// O_RDONLY and never written.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "arch/base/result.h"

namespace vmc {

class Source {
 public:
  virtual ~Source() = default;

  virtual const std::string& name() const = 0;
  virtual uint64_t size() const = 0;
  // Reads buf.size() bytes at `off`; kTruncated (naming the file, offset and
  // size) when the range runs past the end, kIo when the OS fails.
  virtual Status read(uint64_t off, std::span<uint8_t> buf) const = 0;

  // Convenience: read `len` bytes into a new vector.
  Result<std::vector<uint8_t>> read_vec(uint64_t off, uint64_t len) const;
};

class FileSource final : public Source {
 public:
  static Result<std::unique_ptr<FileSource>> open(const std::string& path);
  ~FileSource() override;

  const std::string& name() const override { return path_; }
  uint64_t size() const override { return size_; }
  Status read(uint64_t off, std::span<uint8_t> buf) const override;

 private:
  FileSource(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_;
  uint64_t size_;
};

// A window [base, base+len) of another source, e.g. one file inside another.
class SliceSource final : public Source {
 public:
  SliceSource(const Source& parent, uint64_t base, uint64_t len, std::string name)
      : parent_(parent), base_(base), len_(len), name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return len_; }
  Status read(uint64_t off, std::span<uint8_t> buf) const override;

 private:
  const Source& parent_;
  uint64_t base_, len_;
  std::string name_;
};

// Memory-resident source (tests and small synthetic inputs).
class BufferSource final : public Source {
 public:
  BufferSource(std::vector<uint8_t> data, std::string name) : data_(std::move(data)), name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return data_.size(); }
  Status read(uint64_t off, std::span<uint8_t> buf) const override;

 private:
  std::vector<uint8_t> data_;
  std::string name_;
};

}  // namespace vmc
