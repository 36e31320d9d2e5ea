#include "kvm/source.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/base/bytes.h"

namespace vmc {

Result<std::vector<uint8_t>> Source::read_vec(uint64_t off, uint64_t len) const {
  if (!in_bounds(off, len, size()))
    return make_error(Errc::kTruncated, "{}: {} bytes at offset {:#x} lie beyond its end ({:#x} bytes)", name(), len,
                      off, size());
  std::vector<uint8_t> v(len);
  VMC_TRY(read(off, v));
  return v;
}

Result<std::unique_ptr<FileSource>> FileSource::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::kIo, "{}: cannot open: {}", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return make_error(Errc::kIo, "{}: cannot stat: {}", path, strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return make_error(Errc::kIo, "{}: is a directory", path);
  }
  return std::unique_ptr<FileSource>(new FileSource(path, fd, uint64_t(st.st_size)));
}

FileSource::~FileSource() { ::close(fd_); }

Status FileSource::read(uint64_t off, std::span<uint8_t> buf) const {
  if (!in_bounds(off, buf.size(), size_))
    return make_error(Errc::kTruncated, "{}: {} bytes at offset {:#x} lie beyond the end of the file ({:#x} bytes)",
                      path_, buf.size(), off, size_);
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done, off_t(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::kIo, "{}: read of {} bytes at offset {:#x} failed: {}", path_, buf.size(), off,
                        strerror(errno));
    }
    if (n == 0)
      return make_error(Errc::kTruncated, "{}: file ended at offset {:#x} while reading {} bytes at {:#x}", path_,
                        off + done, buf.size(), off);
    done += size_t(n);
  }
  return {};
}

Status SliceSource::read(uint64_t off, std::span<uint8_t> buf) const {
  if (!in_bounds(off, buf.size(), len_))
    return make_error(Errc::kTruncated, "{}: {} bytes at offset {:#x} lie beyond its end ({:#x} bytes)", name_,
                      buf.size(), off, len_);
  return parent_.read(base_ + off, buf);
}

Status BufferSource::read(uint64_t off, std::span<uint8_t> buf) const {
  if (!in_bounds(off, buf.size(), data_.size()))
    return make_error(Errc::kTruncated, "{}: {} bytes at offset {:#x} lie beyond its end ({:#x} bytes)", name_,
                      buf.size(), off, data_.size());
  if (!buf.empty()) std::memcpy(buf.data(), data_.data() + off, buf.size());
  return {};
}

}  // namespace vmc
