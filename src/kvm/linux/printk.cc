#include "kvm/linux/printk.h"

#include <algorithm>
#include <regex>

#include "arch/base/bytes.h"

namespace vmc {

namespace {

constexpr uint64_t kMaxDescBits = 24;  // 16M descriptors
constexpr uint64_t kMaxDataBits = 28;  // 256 MiB text ring
constexpr uint64_t kMaxOldLogBuf = 256u << 20;

struct Reader {
  VirtualMemory& mem;
  const LogReadOptions& o;
  Result<uint64_t> uint(uint64_t va, unsigned width) {
    uint8_t b[8];
    VMC_TRY(mem.read_virt(va, std::span(b, width)));
    return load_uint(b, width, o.endian);
  }
  Result<uint64_t> ulong(uint64_t va) { return uint(va, o.ptr_size); }
  Result<std::vector<uint8_t>> bytes(uint64_t va, uint64_t len) {
    std::vector<uint8_t> v(len);
    VMC_TRY(mem.read_virt(va, v));
    return v;
  }
};

Result<uint64_t> need(const std::optional<uint64_t>& v, const char* what) {
  if (!v) return make_error(Errc::kNotFound, "VMCOREINFO lacks {}", what);
  return *v;
}

Result<std::vector<LogRecord>> read_lockless(VirtualMemory& mem, const VmcoreInfo& vi, const LogReadOptions& o) {
  Reader r{mem, o};
  VMC_ASSIGN(uint64_t prb_sym, need(vi.symbol("prb"), "SYMBOL(prb)"));
  VMC_ASSIGN(uint64_t off_desc_ring, need(vi.offset("printk_ringbuffer.desc_ring"), "OFFSET(printk_ringbuffer.desc_ring)"));
  VMC_ASSIGN(uint64_t off_text_ring, need(vi.offset("printk_ringbuffer.text_data_ring"), "OFFSET(printk_ringbuffer.text_data_ring)"));
  VMC_ASSIGN(uint64_t off_count_bits, need(vi.offset("prb_desc_ring.count_bits"), "OFFSET(prb_desc_ring.count_bits)"));
  VMC_ASSIGN(uint64_t off_descs, need(vi.offset("prb_desc_ring.descs"), "OFFSET(prb_desc_ring.descs)"));
  VMC_ASSIGN(uint64_t off_infos, need(vi.offset("prb_desc_ring.infos"), "OFFSET(prb_desc_ring.infos)"));
  VMC_ASSIGN(uint64_t off_head, need(vi.offset("prb_desc_ring.head_id"), "OFFSET(prb_desc_ring.head_id)"));
  VMC_ASSIGN(uint64_t off_tail, need(vi.offset("prb_desc_ring.tail_id"), "OFFSET(prb_desc_ring.tail_id)"));
  VMC_ASSIGN(uint64_t sz_desc, need(vi.size("prb_desc"), "SIZE(prb_desc)"));
  VMC_ASSIGN(uint64_t off_state, need(vi.offset("prb_desc.state_var"), "OFFSET(prb_desc.state_var)"));
  VMC_ASSIGN(uint64_t off_lpos, need(vi.offset("prb_desc.text_blk_lpos"), "OFFSET(prb_desc.text_blk_lpos)"));
  VMC_ASSIGN(uint64_t off_begin, need(vi.offset("prb_data_blk_lpos.begin"), "OFFSET(prb_data_blk_lpos.begin)"));
  VMC_ASSIGN(uint64_t off_next, need(vi.offset("prb_data_blk_lpos.next"), "OFFSET(prb_data_blk_lpos.next)"));
  VMC_ASSIGN(uint64_t sz_info, need(vi.size("printk_info"), "SIZE(printk_info)"));
  VMC_ASSIGN(uint64_t off_seq, need(vi.offset("printk_info.seq"), "OFFSET(printk_info.seq)"));
  VMC_ASSIGN(uint64_t off_ts, need(vi.offset("printk_info.ts_nsec"), "OFFSET(printk_info.ts_nsec)"));
  VMC_ASSIGN(uint64_t off_tlen, need(vi.offset("printk_info.text_len"), "OFFSET(printk_info.text_len)"));
  VMC_ASSIGN(uint64_t off_size_bits, need(vi.offset("prb_data_ring.size_bits"), "OFFSET(prb_data_ring.size_bits)"));
  VMC_ASSIGN(uint64_t off_data, need(vi.offset("prb_data_ring.data"), "OFFSET(prb_data_ring.data)"));
  uint64_t off_counter = vi.offset("atomic_long_t.counter").value_or(0);
  // caller_id follows text_len, facility and the flags:5/level:3 byte.
  std::optional<uint64_t> off_level;
  if (auto cid = vi.offset("printk_info.caller_id"); cid && *cid == off_tlen + 4) off_level = off_tlen + 3;

  const unsigned bits = o.ptr_size * 8;
  VMC_ASSIGN(uint64_t prb, r.ulong(prb_sym));
  uint64_t dr = prb + off_desc_ring, tr = prb + off_text_ring;
  VMC_ASSIGN(uint64_t count_bits, r.uint(dr + off_count_bits, 4));
  VMC_ASSIGN(uint64_t descs, r.ulong(dr + off_descs));
  VMC_ASSIGN(uint64_t infos, r.ulong(dr + off_infos));
  VMC_ASSIGN(uint64_t head_id, r.ulong(dr + off_head + off_counter));
  VMC_ASSIGN(uint64_t tail_id, r.ulong(dr + off_tail + off_counter));
  VMC_ASSIGN(uint64_t size_bits, r.uint(tr + off_size_bits, 4));
  VMC_ASSIGN(uint64_t data, r.ulong(tr + off_data));
  if (count_bits > kMaxDescBits || size_bits > kMaxDataBits || sz_desc == 0 || sz_info == 0)
    return make_error(Errc::kBadData, "printk ring buffer at {:#x} has implausible sizes (count_bits {}, size_bits {})",
                      prb, count_bits, size_bits);
  const uint64_t count = uint64_t(1) << count_bits, dsize = uint64_t(1) << size_bits;
  VMC_ASSIGN(auto desc_bytes, r.bytes(descs, count * sz_desc));
  VMC_ASSIGN(auto info_bytes, r.bytes(infos, count * sz_info));
  VMC_ASSIGN(auto text, r.bytes(data, dsize));
  ByteView dv(desc_bytes, o.endian, "printk descriptors"), iv(info_bytes, o.endian, "printk infos");

  const uint64_t flags_shift = bits - 2;
  const uint64_t id_mask = bits == 64 ? ~(uint64_t(3) << flags_shift) : (~(uint64_t(3) << flags_shift)) & 0xffffffffu;
  std::vector<LogRecord> out;
  uint64_t n = ((head_id - tail_id) & id_mask) + 1;
  n = std::min(n, count);
  for (uint64_t k = 0; k < n && out.size() < o.max_records; ++k) {
    uint64_t id = (tail_id + k) & id_mask;
    uint64_t idx = id & (count - 1);
    VMC_ASSIGN(uint64_t sv, dv.uint(idx * sz_desc + off_state, o.ptr_size));
    uint64_t state = (sv >> flags_shift) & 3;
    if ((sv & id_mask) != id || (state != 1 && state != 2)) continue;  // not committed/finalized
    VMC_ASSIGN(uint64_t begin, dv.uint(idx * sz_desc + off_lpos + off_begin, o.ptr_size));
    VMC_ASSIGN(uint64_t next, dv.uint(idx * sz_desc + off_lpos + off_next, o.ptr_size));
    LogRecord rec;
    VMC_ASSIGN(rec.seq, iv.u64(idx * sz_info + off_seq));
    VMC_ASSIGN(rec.ts_nsec, iv.u64(idx * sz_info + off_ts));
    VMC_ASSIGN(uint16_t tlen, iv.u16(idx * sz_info + off_tlen));
    if (off_level) {
      VMC_ASSIGN(uint8_t b, iv.u8(idx * sz_info + *off_level));
      rec.level = b >> 5;
    }
    if (!(begin & 1)) {  // not data-less
      uint64_t bidx = begin & (dsize - 1);
      uint64_t len;
      if ((begin >> size_bits) == (next >> size_bits)) {
        len = next - begin;
      } else {
        bidx = 0;
        len = next & (dsize - 1);
      }
      if (len >= o.ptr_size && bidx + len <= dsize) {
        uint64_t avail = len - o.ptr_size;  // the block starts with the descriptor id
        uint64_t tl = std::min<uint64_t>(tlen, avail);
        rec.text.assign(reinterpret_cast<const char*>(text.data() + bidx + o.ptr_size), tl);
      }
    }
    out.push_back(std::move(rec));
  }
  return out;
}

Result<std::vector<LogRecord>> read_old(VirtualMemory& mem, const VmcoreInfo& vi, const LogReadOptions& o) {
  Reader r{mem, o};
  VMC_ASSIGN(uint64_t log_buf_sym, need(vi.symbol("log_buf"), "SYMBOL(log_buf)"));
  VMC_ASSIGN(uint64_t len_sym, need(vi.symbol("log_buf_len"), "SYMBOL(log_buf_len)"));
  VMC_ASSIGN(uint64_t first_sym, need(vi.symbol("log_first_idx"), "SYMBOL(log_first_idx)"));
  VMC_ASSIGN(uint64_t next_sym, need(vi.symbol("log_next_idx"), "SYMBOL(log_next_idx)"));
  VMC_ASSIGN(uint64_t sz_log, need(vi.size("printk_log"), "SIZE(printk_log)"));
  VMC_ASSIGN(uint64_t off_ts, need(vi.offset("printk_log.ts_nsec"), "OFFSET(printk_log.ts_nsec)"));
  VMC_ASSIGN(uint64_t off_len, need(vi.offset("printk_log.len"), "OFFSET(printk_log.len)"));
  VMC_ASSIGN(uint64_t off_tlen, need(vi.offset("printk_log.text_len"), "OFFSET(printk_log.text_len)"));
  VMC_ASSIGN(uint64_t buf, r.ulong(log_buf_sym));
  VMC_ASSIGN(uint64_t len, r.uint(len_sym, 4));
  VMC_ASSIGN(uint64_t idx, r.uint(first_sym, 4));
  VMC_ASSIGN(uint64_t next, r.uint(next_sym, 4));
  if (len == 0 || len > kMaxOldLogBuf) return make_error(Errc::kBadData, "log_buf_len {} is implausible", len);
  VMC_ASSIGN(auto b, r.bytes(buf, len));
  ByteView v(b, o.endian, "log_buf");
  std::vector<LogRecord> out;
  // Records are walked from log_first_idx to log_next_idx; len == 0 wraps to
  // the start. Each step advances or wraps once, so the walk is bounded.
  bool wrapped = false;
  for (size_t steps = 0; idx != next && steps < o.max_records; ++steps) {
    if (idx + sz_log > len) return make_error(Errc::kBadData, "log_buf record at index {:#x} overruns the buffer", idx);
    VMC_ASSIGN(uint16_t rlen, v.u16(idx + off_len));
    if (rlen == 0) {
      if (wrapped) break;
      wrapped = true;
      idx = 0;
      continue;
    }
    LogRecord rec;
    rec.seq = out.size();
    VMC_ASSIGN(rec.ts_nsec, v.u64(idx + off_ts));
    VMC_ASSIGN(uint16_t tl, v.u16(idx + off_tlen));
    if (auto lv = v.u8(idx + off_tlen + 5); lv) rec.level = *lv >> 5;  // after dict_len, facility
    uint64_t tl_ok = std::min<uint64_t>(tl, rlen > sz_log ? rlen - sz_log : 0);
    if (idx + sz_log + tl_ok <= len) rec.text.assign(reinterpret_cast<const char*>(b.data() + idx + sz_log), tl_ok);
    out.push_back(std::move(rec));
    idx += rlen;
  }
  return out;
}

std::optional<uint64_t> hex_after(const std::string& s, const std::string& key) {
  size_t p = s.find(key);
  if (p == std::string::npos) return std::nullopt;
  p += key.size();
  while (p < s.size() && s[p] == ' ') ++p;
  size_t e = p;
  while (e < s.size() && isxdigit(static_cast<unsigned char>(s[e]))) ++e;
  if (e == p) return std::nullopt;
  return parse_hex(s.substr(p, e - p));
}

}  // namespace

Result<std::vector<LogRecord>> read_printk_log(VirtualMemory& mem, const VmcoreInfo& vi, const LogReadOptions& o) {
  if (vi.symbol("prb")) return read_lockless(mem, vi, o).context("reading the printk ring buffer");
  if (vi.symbol("log_buf")) return read_old(mem, vi, o).context("reading log_buf");
  return make_error(Errc::kNotFound, "VMCOREINFO describes no kernel log (neither SYMBOL(prb) nor SYMBOL(log_buf))");
}

LogPanic scan_log_for_panic(const std::vector<LogRecord>& log) {
  LogPanic p;
  static const std::regex cpu_re(R"(CPU: (\d+) PID: (\d+) Comm: (\S+))");
  std::optional<size_t> oops_at;
  for (size_t i = 0; i < log.size(); ++i) {
    const std::string& t = log[i].text;
    if (t.rfind("Kernel panic - not syncing: ", 0) == 0) {
      p.panic = t.substr(28);
      while (!p.panic->empty() && p.panic->back() == '\n') p.panic->pop_back();
    }
    bool oops = t.rfind("BUG: ", 0) == 0 || t.rfind("Oops", 0) == 0 || t.rfind("general protection fault", 0) == 0 ||
                t.rfind("kernel BUG at ", 0) == 0 || t.rfind("divide error", 0) == 0 ||
                t.rfind("invalid opcode", 0) == 0 || t.rfind("stack segment", 0) == 0;
    if (oops && !p.panic) {  // the first oops before the panic is the cause
      if (!p.oops) {
        p.oops = t;
        oops_at = i;
      }
    }
    if (auto a = hex_after(t, "page fault for address:"); a && !p.fault_address) p.fault_address = a;
  }
  // CR2 of the oops register dump when no "page fault for address" line.
  if (!p.fault_address && p.oops && p.oops->find("page fault") != std::string::npos) {
    for (size_t i = *oops_at; i < log.size(); ++i)
      if (auto a = hex_after(log[i].text, "CR2:")) { p.fault_address = a; break; }
  }
  // The "CPU: n PID: p Comm: c" line after the oops (or the panic).
  size_t from = oops_at.value_or(0);
  for (size_t i = from; i < log.size(); ++i) {
    std::smatch m;
    if (std::regex_search(log[i].text, m, cpu_re)) {
      p.cpu = std::stoi(m[1]);
      p.pid = std::stoi(m[2]);
      p.comm = m[3];
      break;
    }
  }
  return p;
}

}  // namespace vmc
