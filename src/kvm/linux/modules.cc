#include "kvm/linux/modules.h"

#include <algorithm>
#include <filesystem>
#include <unordered_set>

namespace vmc {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxModules = 1u << 14;
constexpr unsigned kMaxSections = 4096;
constexpr unsigned kMaxModSyms = 1u << 20;
constexpr size_t kMaxIndexedFiles = 200000;

std::string norm(std::string n) {
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

// Index of candidate debug files: normalized module name -> paths (in
// search order, .ko.debug preferred over .ko within a directory).
std::map<std::string, std::vector<std::string>> index_debug_files(const std::vector<std::string>& dirs,
                                                                  std::vector<std::string>* warnings) {
  std::map<std::string, std::vector<std::string>> idx;
  size_t files = 0;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    auto it = fs::recursive_directory_iterator(d, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (++files > kMaxIndexedFiles) {
        warnings->push_back(fmt::format("stopped indexing module files after {} entries", kMaxIndexedFiles));
        return idx;
      }
      if (!it->is_regular_file(ec)) continue;
      std::string fn = it->path().filename().string();
      std::string base;
      bool dbg = false;
      if (fn.size() > 9 && fn.ends_with(".ko.debug")) { base = fn.substr(0, fn.size() - 9); dbg = true; }
      else if (fn.size() > 3 && fn.ends_with(".ko")) base = fn.substr(0, fn.size() - 3);
      else continue;
      auto& v = idx[norm(base)];
      if (dbg) v.insert(v.begin(), it->path().string());
      else v.push_back(it->path().string());
    }
  }
  return idx;
}

std::string modinfo_value(const ElfImage& img, std::string_view key) {
  auto d = img.section_data(".modinfo");
  if (!d) return {};
  std::string_view all(reinterpret_cast<const char*>(d->data()), d->size());
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\0', pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view kv = all.substr(pos, end - pos);
    if (kv.size() > key.size() && kv.substr(0, key.size()) == key && kv[key.size()] == '=')
      return std::string(kv.substr(key.size() + 1));
    pos = end + 1;
  }
  return {};
}

bool module_file_matches(Session& s, const LoadedModule& m, const ElfImage& img, std::string* why) {
  TypeIndex* t = s.types();
  if (auto bid = t->member("module", "build_id"); bid && bid->size && !img.build_id().empty()) {
    std::vector<uint8_t> b(std::min<uint64_t>(*bid->size, img.build_id().size()));
    if (s.read(m.addr + bid->offset, b).ok() && std::any_of(b.begin(), b.end(), [](uint8_t x) { return x; })) {
      if (!std::equal(b.begin(), b.end(), img.build_id().begin())) {
        *why = "build-id differs";
        return false;
      }
      return true;
    }
  }
  if (auto sv = t->offset("module", "srcversion")) {
    std::string file_sv = modinfo_value(img, "srcversion");
    auto p = s.read_ulong(m.addr + *sv);
    if (p && *p && !file_sv.empty()) {
      auto mem_sv = s.read_cstr(*p, 64);
      if (mem_sv && *mem_sv != file_sv) {
        *why = fmt::format("srcversion {} in the dump, {} in the file", *mem_sv, file_sv);
        return false;
      }
      if (mem_sv) return true;
    }
  }
  std::string file_name = modinfo_value(img, "name");
  if (!file_name.empty() && norm(file_name) != norm(m.name)) {
    *why = fmt::format(".modinfo name is {}", file_name);
    return false;
  }
  return true;
}

}  // namespace

const LoadedModule* ModuleList::find_addr(uint64_t pc) const {
  for (const auto& m : modules)
    for (auto [b, e] : m->text)
      if (pc >= b && pc < e) return m.get();
  return nullptr;
}

Result<ModuleList> load_modules(Session& s) {
  TypeIndex* t = s.types();
  if (!t) return make_error(Errc::kNotFound, "the vmlinux has no DWARF: module structures are unknown");
  ModuleList out;
  const unsigned ws = s.minfo().ptr_size;
  VMC_ASSIGN(uint64_t off_list, t->offset("module", "list"));
  VMC_ASSIGN(uint64_t off_name, t->offset("module", "name"));
  VMC_ASSIGN(uint64_t off_state, t->offset("module", "state"));
  auto name_len = t->member("module", "name");
  uint64_t name_max = name_len && name_len->size ? *name_len->size : 56;
  // Layout: 6.4+ has mem[MOD_MEM_NUM_TYPES] (MOD_TEXT = 0, MOD_INIT_TEXT = 4),
  // before that core_layout/init_layout with base/size/text_size.
  auto core_base = t->offset("module", "core_layout.base");
  auto core_size = t->offset("module", "core_layout.size");
  auto core_text = t->offset("module", "core_layout.text_size");
  auto init_base = t->offset("module", "init_layout.base");
  auto init_text = t->offset("module", "init_layout.text_size");
  auto mem = t->member("module", "mem");
  std::optional<uint64_t> mem_stride, mem_base_off, mem_size_off;
  if (mem) {
    auto mm = t->find_type("module_memory");
    if (mm) {
      mem_stride = t->struct_size("module_memory").value_or(0);
      mem_base_off = t->offset("module_memory", "base").value_or(0);
      mem_size_off = t->offset("module_memory", "size").value_or(8);
    }
  }
  auto orc_num = t->offset("module", "arch.num_orcs");
  auto orc_ip = t->offset("module", "arch.orc_unwind_ip");
  auto orc_un = t->offset("module", "arch.orc_unwind");
  auto sect_attrs = t->offset("module", "sect_attrs");
  auto kallsyms = t->offset("module", "kallsyms");

  std::vector<std::string> dirs = s.options().module_dirs;
  if (!s.kernel().release.empty()) {
    dirs.push_back("/usr/lib/debug/lib/modules/" + s.kernel().release);
    dirs.push_back("/lib/modules/" + s.kernel().release);
  }
  auto index = index_debug_files(dirs, &out.warnings);

  VMC_ASSIGN(kvaddr_t head, s.symbol_address("modules"));
  VMC_ASSIGN(kvaddr_t p, s.read_ulong(head));
  std::unordered_set<kvaddr_t> seen;
  for (size_t n = 0; p != head; ++n) {
    if (n >= kMaxModules || !seen.insert(p).second) {
      out.warnings.push_back(fmt::format("module list: {} at {:#x}: stopped", n >= kMaxModules ? "too long" : "cycle", p));
      break;
    }
    auto m = std::make_unique<LoadedModule>();
    m->addr = p - off_list;
    auto nm = s.read_cstr(m->addr + off_name, name_max);
    if (!nm) {
      out.warnings.push_back(fmt::format("module at {:#x}: {} (walk stopped)", m->addr, nm.error().message()));
      break;
    }
    m->name = *nm;
    if (auto st = s.read_uint(m->addr + off_state, 4)) m->state = int(*st);
    if (core_base && core_size && core_text) {
      m->core_base = s.read_ulong(m->addr + *core_base).value_or(0);
      m->core_size = s.read_uint(m->addr + *core_size, 4).value_or(0);
      uint64_t ts = s.read_uint(m->addr + *core_text, 4).value_or(0);
      if (m->core_base && ts) m->text.emplace_back(m->core_base, m->core_base + ts);
      if (init_base && init_text) {
        uint64_t ib = s.read_ulong(m->addr + *init_base).value_or(0);
        uint64_t its = s.read_uint(m->addr + *init_text, 4).value_or(0);
        if (ib && its) m->text.emplace_back(ib, ib + its);
      }
    } else if (mem && mem_stride && *mem_stride) {
      for (int type : {0 /*MOD_TEXT*/, 4 /*MOD_INIT_TEXT*/}) {
        uint64_t e = m->addr + mem->offset + uint64_t(type) * *mem_stride;
        uint64_t b = s.read_ulong(e + *mem_base_off).value_or(0);
        uint64_t sz = s.read_uint(e + *mem_size_off, 4).value_or(0);
        if (b && sz) m->text.emplace_back(b, b + sz);
        if (type == 0) { m->core_base = b; m->core_size = sz; }
      }
    }
    if (orc_num && orc_ip && orc_un) {
      m->num_orcs = s.read_uint(m->addr + *orc_num, 4).value_or(0);
      m->orc_ip = s.read_ulong(m->addr + *orc_ip).value_or(0);
      m->orc_entries = s.read_ulong(m->addr + *orc_un).value_or(0);
    }
    // Section addresses: module_sect_attrs { grp; nsections; attrs[] } with
    // module_sect_attr { battr (name in battr.attr.name) | name; address }.
    if (sect_attrs) {
      auto sa = s.read_ulong(m->addr + *sect_attrs);
      auto nsec_off = t->offset("module_sect_attrs", "nsections");
      auto attrs_off = t->offset("module_sect_attrs", "attrs");
      auto attr_size = t->struct_size("module_sect_attr");
      auto addr_off = t->offset("module_sect_attr", "address");
      auto name_off = t->offset("module_sect_attr", "battr.attr.name");
      if (!name_off) name_off = t->offset("module_sect_attr", "name");
      if (sa && *sa && nsec_off && attrs_off && attr_size && addr_off && name_off) {
        uint64_t ns = s.read_uint(*sa + *nsec_off, 4).value_or(0);
        for (uint64_t i = 0; i < std::min<uint64_t>(ns, kMaxSections); ++i) {
          uint64_t a = *sa + *attrs_off + i * *attr_size;
          auto np = s.read_ulong(a + *name_off);
          auto ad = s.read_ulong(a + *addr_off);
          if (!np || !ad) continue;
          if (auto sn = s.read_cstr(*np, 128)) m->sections[*sn] = *ad;
        }
      }
    }
    // kallsyms: mod_kallsyms { symtab; num_symtab; strtab; … }, Elf_Sym
    // entries of the target class.
    if (kallsyms) {
      auto ks = s.read_ulong(m->addr + *kallsyms);
      auto st_off = t->offset("mod_kallsyms", "symtab");
      auto num_off = t->offset("mod_kallsyms", "num_symtab");
      auto str_off = t->offset("mod_kallsyms", "strtab");
      if (ks && *ks && st_off && num_off && str_off) {
        uint64_t symtab = s.read_ulong(*ks + *st_off).value_or(0);
        uint64_t num = s.read_uint(*ks + *num_off, 4).value_or(0);
        uint64_t strtab = s.read_ulong(*ks + *str_off).value_or(0);
        const uint64_t symsz = ws == 8 ? 24 : 16;
        num = std::min<uint64_t>(num, kMaxModSyms);
        std::vector<uint8_t> syms(num * symsz);
        if (symtab && strtab && num && s.read(symtab, syms).ok()) {
          for (uint64_t i = 0; i < num; ++i) {
            const uint8_t* e = syms.data() + i * symsz;
            uint32_t st_name = load_u32(e, s.dump().endian());
            uint64_t value = ws == 8 ? load_u64(e + 8, s.dump().endian()) : load_u32(e + 4, s.dump().endian());
            uint8_t info = ws == 8 ? e[4] : e[12];
            if ((info & 0xf) != 2 /*STT_FUNC*/ || !value) continue;
            if (auto nm2 = s.read_cstr(strtab + st_name, 256); nm2 && !nm2->empty())
              m->kallsyms.emplace_back(value, *nm2);
          }
          std::sort(m->kallsyms.begin(), m->kallsyms.end());
        }
      }
    }
    // Debug file.
    auto it = index.find(norm(m->name));
    if (it == index.end()) {
      m->debug_error = fmt::format("no {}.ko in {}", m->name, dirs.empty() ? "(no directories)" : fmt::format("{}", fmt::join(dirs, ", ")));
    } else if (m->sections.empty()) {
      m->debug_error = "section addresses unknown (no sect_attrs in the dump)";
    } else {
      RelocationPlan plan;
      plan.section_addrs = m->sections;
      plan.resolve_undefined = [&s](std::string_view sym) -> std::optional<uint64_t> {
        auto a = s.symbol_address(sym);
        return a ? std::optional<uint64_t>(*a) : std::nullopt;
      };
      for (const auto& path : it->second) {
        auto img = ElfImage::open_relocated(path, plan);
        if (!img) {
          m->debug_error = img.error().message();
          continue;
        }
        // A module of another architecture can carry the same srcversion
        // (it hashes the sources): the machine must match first.
        if ((*img)->machine() != s.machine()) {
          m->debug_error = fmt::format("{} is for ELF machine {}, the dump is {}", path, (*img)->elf_machine(),
                                       s.minfo().name);
          continue;
        }
        // The file must be this module: the build-id recorded in struct
        // module when the kernel keeps one, else .modinfo's srcversion
        // against mod->srcversion; and its .text must fit the loaded text.
        const ElfSection* text = (*img)->section(".text");
        if (text && !m->text.empty() && text->size > m->text[0].second - m->text[0].first) {
          m->debug_error = fmt::format("{}: .text ({:#x} bytes) larger than the loaded module's text", path, text->size);
          continue;
        }
        std::string why;
        if (!module_file_matches(s, *m, **img, &why)) {
          m->debug_error = fmt::format("{} is not the loaded {}: {}", path, m->name, why);
          continue;
        }
        m->debug_path = path;
        m->debug = std::move(*img);
        m->debug_error.clear();
        break;
      }
    }
    out.modules.push_back(std::move(m));
    auto nx = s.read_ulong(p);
    if (!nx) {
      out.warnings.push_back(fmt::format("module list entry {:#x}: {} (walk stopped)", p, nx.error().message()));
      break;
    }
    p = *nx;
  }
  return out;
}

}  // namespace vmc
