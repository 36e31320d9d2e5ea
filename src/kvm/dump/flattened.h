// makedumpfile's flattened stream, read in place as the file it describes.
//
// `makedumpfile -F` (for piping a dump over ssh) and QEMU's
// `dump-guest-memory -z/-l/-s` write the dump not as a file but as a stream:
// a 4096-byte header (signature "makedumpfile", big-endian int64 type = 1 and
// version = 1), then records {int64 offset, int64 size} (big-endian) each
// followed by `size` bytes that belong at `offset` of the logical file, and an
// end marker offset = size = -1 (makedumpfile IMPLEMENTATION, makedumpfile.h
// MAX_SIZE_MDF_HEADER / TYPE_FLAT_HEADER / END_FLAG_FLAT_HEADER).
// `makedumpfile -R` rebuilds the file by writing the records in order;
// FlattenedSource gives the same bytes without the copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kvm/source.h"

namespace vmc {

class FlattenedSource final : public Source {
 public:
  static constexpr uint64_t kHeaderSize = 4096;
  static constexpr uint64_t kRecordHeaderSize = 16;

  // True when `head` (the first bytes of a file) starts with the flattened
  // signature: "makedumpfile" NUL-terminated in a 16-byte field.
  static bool has_signature(std::span<const uint8_t> head);

  // Scans every record header of `stream` once (one pass, bounded by the
  // stream's size) and indexes where each byte of the logical file is.
  // Where records overlap, the later one wins, as in a sequential
  // `makedumpfile -R`. Errors name the stream and the stream offset:
  // kTruncated (header cut short), kUnsupported (type or version), kBadData
  // (negative or overflowing record offsets or sizes), kLimit (record count).
  static Result<std::unique_ptr<FlattenedSource>> open(std::shared_ptr<const Source> stream);

  // The stream's name (the file on disk): the dump's path.
  const std::string& name() const override { return stream_->name(); }
  // Logical size: the end of the furthest record.
  uint64_t size() const override { return size_; }
  // Reads logical bytes. Regions no record wrote read as zeros, like the
  // sparse file -R makes, but only when the stream is complete: in a cut
  // stream they may be data that never arrived, so they fail with kTruncated.
  Status read(uint64_t off, std::span<uint8_t> buf) const override;

  // False when the stream ends without its end marker (it was cut).
  bool complete() const { return complete_; }
  // What was odd about the stream (cut, trailing bytes); one line each.
  const std::vector<std::string>& warnings() const { return warnings_; }
  uint64_t record_count() const { return records_; }

  // A run of logical bytes [offset, offset+size) stored contiguously at
  // stream_offset; sorted by offset, never overlapping.
  struct Segment {
    uint64_t offset, size, stream_offset;
  };
  const std::vector<Segment>& segments() const { return segs_; }

 private:
  explicit FlattenedSource(std::shared_ptr<const Source> s) : stream_(std::move(s)) {}

  std::shared_ptr<const Source> stream_;
  std::vector<Segment> segs_;
  uint64_t size_ = 0;
  uint64_t records_ = 0;
  uint64_t end_of_records_ = 0;  // stream offset where the scan stopped
  bool complete_ = false;
  std::vector<std::string> warnings_;
};

}  // namespace vmc
