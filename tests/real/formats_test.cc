// Every dump reader against every real dump of a capture: for a sample of
// physical pages (every 97th pfn of the reference's RAM plus the first and
// last of each range) each dump returns the bytes of the capture's
// unfiltered ELF dump, or says precisely why not (kExcluded in a filtered
// dump, kNotInDump in QEMU's paging-only dump). Never different bytes.
//
// Dumps are classified by what their headers say, not by file name:
//   QEMU reference    ELF, "QEMU" notes, p_vaddr == p_paddr (dump-guest-memory)
//   QEMU paging ELF   ELF, "QEMU" notes, virtual p_vaddr    (dump-guest-memory -p)
//   kdump reference   ELF, no QEMU notes, nothing filtered  (/proc/vmcore copy)
//   makedumpfile      ELF with filtered tails, or kdump-compressed without
//                     QEMU notes, plain or flattened (-c, -l, -E, -F)
//   QEMU compressed   kdump-compressed with "QEMU" notes    (-z, flattened in 7.2)
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "kvm/dump/diskdump.h"
#include "kvm/dump/dump.h"
#include "kvm/dump/elf_dump.h"
#include "support/corpus.h"

namespace vmc::test {
namespace {

enum class Kind { kQemuRef, kQemuPaging, kQemuCompressed, kKdumpRef, kMakedumpfile };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kQemuRef: return "QEMU ELF (reference)";
    case Kind::kQemuPaging: return "QEMU paging ELF";
    case Kind::kQemuCompressed: return "QEMU kdump-compressed";
    case Kind::kKdumpRef: return "kdump /proc/vmcore ELF (reference)";
    case Kind::kMakedumpfile: return "makedumpfile output";
  }
  return "?";
}

struct Opened {
  std::string file;
  std::unique_ptr<Dump> dump;
  Kind kind;
  bool qemu_capture() const { return kind == Kind::kQemuRef || kind == Kind::kQemuPaging || kind == Kind::kQemuCompressed; }
};

Result<Opened> open_classified(const std::string& file) {
  VMC_ASSIGN(auto d, open_dump(file));
  Opened o{file, std::move(d), Kind::kMakedumpfile};
  const bool qemu = o.dump->producer() == "qemu";
  if (auto* elf = dynamic_cast<ElfDump*>(o.dump.get())) {
    bool paging = std::any_of(elf->loads().begin(), elf->loads().end(),
                              [](const ElfDump::Load& l) { return l.vaddr != l.paddr; });
    if (qemu) o.kind = paging ? Kind::kQemuPaging : Kind::kQemuRef;
    else o.kind = o.dump->producer() == "kdump" ? Kind::kKdumpRef : Kind::kMakedumpfile;
  } else {
    o.kind = qemu ? Kind::kQemuCompressed : Kind::kMakedumpfile;
  }
  return o;
}

// Pfns to compare: every 97th of the reference's RAM, and each range's
// first and last. Only whole pages: kdump's ELF has ranges that end
// mid-page (the i386 e820 map's 0x9fc00).
std::vector<uint64_t> sample_pfns(const Dump& ref) {
  std::vector<uint64_t> pfns;
  uint64_t n = 0;
  for (const PhysRange& r : ref.ranges()) {
    uint64_t first = (r.start + 4095) / 4096, end = (r.start + r.size) / 4096;
    if (first >= end) continue;
    uint64_t last = end - 1;
    pfns.push_back(first);
    for (uint64_t p = first; p <= last; ++p, ++n)
      if (n % 97 == 0) pfns.push_back(p);
    pfns.push_back(last);
  }
  std::sort(pfns.begin(), pfns.end());
  pfns.erase(std::unique(pfns.begin(), pfns.end()), pfns.end());
  return pfns;
}

// Notes as comparable values: (name, type, desc bytes), in order.
std::vector<std::tuple<std::string, uint32_t, std::vector<uint8_t>>> note_list(const Dump& d) {
  std::vector<std::tuple<std::string, uint32_t, std::vector<uint8_t>>> v;
  for (const Note& n : d.notes()) v.emplace_back(n.name, n.type, n.desc);
  return v;
}

class RealFormats : public ::testing::TestWithParam<DumpCase> {};

TEST_P(RealFormats, SameBytesAsTheUnfilteredElfOfTheCapture) {
  VMC_REQUIRE_CORPUS();
  if (!GetParam().scenario) GTEST_SKIP() << corpus_missing_message();
  const Scenario& sc = *GetParam().scenario;
  auto me = open_classified(GetParam().file);
  ASSERT_TRUE(me.ok()) << me.error().message();

  // The capture's reference, found among the scenario's dumps by header.
  const Kind want_ref = me->qemu_capture() ? Kind::kQemuRef : Kind::kKdumpRef;
  std::optional<Opened> ref;
  for (const std::string& f : sc.dumps()) {
    auto o = open_classified(f);
    if (o.ok() && o->kind == want_ref) {
      ref = std::move(*o);
      break;
    }
  }
  if (!ref)
    GTEST_SKIP() << "REFERENCE MISSING: " << sc.set << "/" << sc.name << " has no " << kind_name(want_ref)
                 << " to compare " << GetParam().file << " with";
  const Dump& r = *ref->dump;
  Dump& d = *me->dump;
  std::cout << "[ formats  ] " << GetParam().file << ": " << kind_name(me->kind) << ", format \"" << d.format()
            << "\", compression " << d.compression() << ", vs " << ref->file << "\n";

  // Headers of one capture agree.
  EXPECT_EQ(d.machine(), r.machine());
  EXPECT_EQ(d.endian(), r.endian());
  EXPECT_EQ(bool(d.vmcoreinfo()), bool(r.vmcoreinfo()));
  if (d.vmcoreinfo() && r.vmcoreinfo()) {
    EXPECT_EQ(*d.vmcoreinfo(), *r.vmcoreinfo());
  }
  EXPECT_EQ(d.notes().size(), r.notes().size());
  EXPECT_TRUE(note_list(d) == note_list(r)) << "notes differ from the reference's";
  EXPECT_TRUE(d.warnings().empty()) << d.warnings().front();
  if (auto* dd = dynamic_cast<DiskDump*>(&d)) {
    EXPECT_NE(d.compression(), "none");
    ASSERT_TRUE(d.header().machine.has_value());
    EXPECT_FALSE(d.header().incomplete);
    EXPECT_GT(dd->dumped_pages(), 0u);
    if (me->kind == Kind::kMakedumpfile) {
      // makedumpfile copies the kernel's utsname; QEMU fills in only machine.
      EXPECT_EQ(d.header().release, sc.truth.value("release", ""));
      EXPECT_EQ(d.producer(), "makedumpfile");
    }
  }

  // Pages.
  const bool may_exclude = me->kind == Kind::kMakedumpfile;
  const bool may_miss = me->kind == Kind::kQemuPaging;
  std::vector<uint8_t> want(4096), got(4096);
  size_t same = 0, excluded = 0, missing = 0, failures = 0;
  for (uint64_t pfn : sample_pfns(r)) {
    const PhysAddr pa(pfn * 4096);
    Status rs = ref->dump->read_phys(pa, want);
    ASSERT_TRUE(rs.ok()) << "the reference cannot read its own RAM: " << rs.error().message();
    Status s = d.read_phys(pa, got);
    if (s.ok()) {
      if (got == want) {
        ++same;
      } else if (++failures <= 10) {
        ADD_FAILURE() << GetParam().file << ": DIFFERENT BYTES at physical " << fmt::format("{:#x}", pa.v)
                      << " than " << ref->file;
      }
    } else if (may_exclude && s.error().code() == Errc::kExcluded) {
      ++excluded;
    } else if (may_miss && s.error().code() == Errc::kNotInDump) {
      ++missing;
    } else if (++failures <= 10) {
      ADD_FAILURE() << GetParam().file << ": " << errc_name(s.error().code()) << ": " << s.error().message();
    }
  }
  std::cout << "[ formats  ]   " << same << " pages equal, " << excluded << " excluded, " << missing
            << " not in this dump, " << failures << " failures\n";
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(same, 100u);
  if (me->kind == Kind::kQemuCompressed || me->kind == Kind::kKdumpRef || me->kind == Kind::kQemuRef) {
    EXPECT_EQ(excluded + missing, 0u);
  }
  if (me->kind == Kind::kMakedumpfile) {
    EXPECT_GT(excluded, 0u) << "makedumpfile -d 31 excluded nothing?";
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, RealFormats, ::testing::ValuesIn(dump_cases()),
                         [](const auto& info) { return info.param.label(); });

}  // namespace
}  // namespace vmc::test
