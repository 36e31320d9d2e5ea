#include "kvm/dump/flattened.h"

#include <algorithm>
#include <cstring>
#include <queue>

#include "arch/base/bytes.h"

namespace vmc {

namespace {

// makedumpfile.h: MAKEDUMPFILE_SIGNATURE, TYPE_FLAT_HEADER,
// VERSION_FLAT_HEADER, END_FLAG_FLAT_HEADER.
constexpr char kSignature[] = "makedumpfile";
constexpr size_t kSignatureField = 16;
constexpr int64_t kFlatType = 1;
constexpr int64_t kFlatVersion = 1;
constexpr int64_t kEndFlag = -1;
// makedumpfile and QEMU write records of at most a few cache buffers
// (64 KiB); a stream needs more than a hundred million of them only when it
// is garbage, and the index costs ~24 bytes per record.
constexpr uint64_t kMaxRecords = uint64_t(1) << 27;

// One record as found in the stream; its position in `recs` is its sequence
// number (later records win).
struct Rec {
  uint64_t start, end, stream;
};

void append(std::vector<FlattenedSource::Segment>& out, uint64_t off, uint64_t len, uint64_t stream) {
  if (!out.empty()) {
    auto& b = out.back();
    if (b.offset + b.size == off && b.stream_offset + b.size == stream) {
      b.size += len;
      return;
    }
  }
  out.push_back({off, len, stream});
}

// Turns records (in stream order) into disjoint segments sorted by logical
// offset, the latest record owning each byte. O(n log n): a sweep over the
// sorted record boundaries with a max-heap of the records covering the
// current position, keyed by sequence number, expired lazily.
std::vector<FlattenedSource::Segment> resolve(const std::vector<Rec>& recs) {
  std::vector<FlattenedSource::Segment> out;
  bool disjoint_sorted = true;
  for (size_t i = 1; i < recs.size() && disjoint_sorted; ++i)
    disjoint_sorted = recs[i].start >= recs[i - 1].end;
  if (disjoint_sorted) {  // the usual stream: written front to back
    out.reserve(recs.size());
    for (const Rec& r : recs) append(out, r.start, r.end - r.start, r.stream);
    return out;
  }

  std::vector<uint64_t> bounds;
  bounds.reserve(recs.size() * 2);
  for (const Rec& r : recs) {
    bounds.push_back(r.start);
    bounds.push_back(r.end);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::vector<size_t> by_start(recs.size());
  for (size_t i = 0; i < recs.size(); ++i) by_start[i] = i;
  std::sort(by_start.begin(), by_start.end(), [&](size_t a, size_t b) { return recs[a].start < recs[b].start; });

  std::priority_queue<size_t> live;  // record indexes; the top is the latest
  size_t next = 0;
  for (size_t k = 0; k + 1 < bounds.size(); ++k) {
    uint64_t b = bounds[k], e = bounds[k + 1];
    while (next < by_start.size() && recs[by_start[next]].start <= b) live.push(by_start[next++]);
    while (!live.empty() && recs[live.top()].end <= b) live.pop();
    if (live.empty()) continue;  // a hole: no record wrote [b, e)
    // Every record end is a boundary, so the owner covers all of [b, e).
    const Rec& r = recs[live.top()];
    append(out, b, e - b, r.stream + (b - r.start));
  }
  return out;
}

}  // namespace

bool FlattenedSource::has_signature(std::span<const uint8_t> head) {
  constexpr size_t n = sizeof(kSignature);  // including the NUL
  return head.size() >= n && std::memcmp(head.data(), kSignature, n) == 0;
}

Result<std::unique_ptr<FlattenedSource>> FlattenedSource::open(std::shared_ptr<const Source> stream) {
  auto fs = std::unique_ptr<FlattenedSource>(new FlattenedSource(stream));
  const std::string& fn = stream->name();
  const uint64_t ssize = stream->size();
  if (ssize < kHeaderSize)
    return make_error(Errc::kTruncated, "{}: flattened stream of {} bytes is shorter than its {}-byte header", fn,
                      ssize, kHeaderSize);
  uint8_t hdr[kSignatureField + 16];
  VMC_TRY(stream->read(0, hdr));
  if (!has_signature(hdr)) return make_error(Errc::kBadData, "{}: no \"makedumpfile\" flattened signature at offset 0", fn);
  // Header integers are big-endian whatever the host or the dumped machine
  // (makedumpfile write_start_flat_header: "for sending dump data to a
  // different architecture").
  int64_t type = int64_t(load_u64(hdr + kSignatureField, Endian::kBig));
  int64_t version = int64_t(load_u64(hdr + kSignatureField + 8, Endian::kBig));
  if (type != kFlatType)
    return make_error(Errc::kUnsupported, "{}: flattened stream header at offset {:#x} has type {} (only {} is known)",
                      fn, kSignatureField, type, kFlatType);
  if (version != kFlatVersion)
    return make_error(Errc::kUnsupported,
                      "{}: flattened stream header at offset {:#x} has version {} (only {} is known)", fn,
                      kSignatureField + 8, version, kFlatVersion);

  std::vector<Rec> recs;
  uint64_t pos = kHeaderSize;
  // Each pass consumes at least one 16-byte record header: bounded by ssize.
  for (;;) {
    if (pos == ssize) {
      fs->warnings_.push_back(fmt::format(
          "{}: the flattened stream ends at offset {:#x} without its end marker: it was cut, and data it never "
          "delivered cannot be read",
          fn, pos));
      break;
    }
    if (ssize - pos < kRecordHeaderSize) {
      fs->warnings_.push_back(fmt::format(
          "{}: the flattened stream is cut inside the record header at offset {:#x} ({} of {} bytes present)", fn,
          pos, ssize - pos, kRecordHeaderSize));
      break;
    }
    uint8_t rh[kRecordHeaderSize];
    VMC_TRY(stream->read(pos, rh));
    int64_t off = int64_t(load_u64(rh, Endian::kBig));
    int64_t len = int64_t(load_u64(rh + 8, Endian::kBig));
    if (off == kEndFlag && len == kEndFlag) {
      fs->complete_ = true;
      pos += kRecordHeaderSize;
      if (pos < ssize)
        fs->warnings_.push_back(fmt::format("{}: {} bytes follow the flattened stream's end marker at offset {:#x} (ignored)",
                                            fn, ssize - pos, pos - kRecordHeaderSize));
      break;
    }
    if (off < 0 || len < 0)
      return make_error(Errc::kBadData,
                        "{}: flattened record at offset {:#x} has a negative offset or size (offset {}, size {})", fn,
                        pos, off, len);
    uint64_t end;
    if (!checked_add(uint64_t(off), uint64_t(len), &end) || end > uint64_t(INT64_MAX))
      return make_error(Errc::kBadData, "{}: flattened record at offset {:#x}: offset {:#x} + size {:#x} overflows", fn,
                        pos, off, len);
    const uint64_t data = pos + kRecordHeaderSize;
    const uint64_t avail = ssize - data;
    ++fs->records_;
    if (uint64_t(len) > avail) {
      // Cut inside the data: what did arrive is real, the rest is missing.
      fs->warnings_.push_back(fmt::format(
          "{}: the flattened stream is cut inside the record at offset {:#x} ({:#x} bytes for logical offset {:#x}, "
          "only {:#x} present)",
          fn, pos, len, off, avail));
      if (avail > 0) recs.push_back({uint64_t(off), uint64_t(off) + avail, data});
      pos = ssize;
      break;
    }
    if (len > 0) {
      if (recs.size() >= kMaxRecords)
        return make_error(Errc::kLimit, "{}: more than {} records in the flattened stream (at offset {:#x})", fn,
                          kMaxRecords, pos);
      recs.push_back({uint64_t(off), end, data});
    }
    pos = data + uint64_t(len);
  }
  fs->end_of_records_ = pos;
  for (const Rec& r : recs) fs->size_ = std::max(fs->size_, r.end);
  fs->segs_ = resolve(recs);
  return fs;
}

Status FlattenedSource::read(uint64_t off, std::span<uint8_t> buf) const {
  const uint64_t n = buf.size();
  if (!in_bounds(off, n, size_))
    return make_error(Errc::kTruncated,
                      "{}: {} bytes at offset {:#x} lie beyond the end of the file the flattened stream describes "
                      "({:#x} bytes)",
                      name(), n, off, size_);
  // First segment ending after `off`.
  auto it = std::upper_bound(segs_.begin(), segs_.end(), off,
                             [](uint64_t a, const Segment& s) { return a < s.offset; });
  if (it != segs_.begin() && std::prev(it)->offset + std::prev(it)->size > off) --it;
  uint64_t done = 0;
  while (done < n) {  // each pass consumes a segment or a hole
    const uint64_t a = off + done;
    if (it != segs_.end() && it->offset <= a) {
      uint64_t in = a - it->offset;
      uint64_t m = std::min(n - done, it->size - in);
      Status s = stream_->read(it->stream_offset + in, buf.subspan(done, m));
      if (!s) return std::move(s).error().context(fmt::format("{}: logical offset {:#x} of the flattened stream", name(), a));
      done += m;
      ++it;
    } else {
      uint64_t hole_end = it != segs_.end() ? it->offset : size_;
      uint64_t m = std::min(n - done, hole_end - a);
      if (!complete_)
        return make_error(Errc::kTruncated,
                          "{}: logical bytes {:#x}-{:#x} were never written: the flattened stream was cut (no end "
                          "marker; its records stop at stream offset {:#x})",
                          name(), a, a + m, end_of_records_);
      std::memset(buf.data() + done, 0, m);
      done += m;
    }
  }
  return {};
}

}  // namespace vmc
