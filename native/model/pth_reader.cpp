#include "model/pth_reader.h"

#include <ATen/ops/empty.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <tuple>
#include <variant>

#include "common/arg_error.h"
#include "common/checkpoint_error.h"

namespace adetr::model {

namespace {

// What a crafted file may make the reader do. Each opcode costs a bounded amount of time, and
// these bounds cap what the opcodes together may allocate (a few hundred MB at worst, besides
// the storages, which cannot exceed the file). Real files stay far below them: a training
// checkpoint of 4,000 tensors (weights and AdamW state) pushes about 10^5 values, and Python
// names and storage keys are a few dozen bytes.
constexpr size_t kMaxValues = size_t{1} << 21;   // values pushed on the stack, new or from the memo
constexpr size_t kMaxMemo = size_t{1} << 21;     // memo entries
constexpr size_t kMaxTensors = size_t{1} << 17;  // tensors rebuilt
constexpr size_t kMaxNameBytes = 1024;           // a GLOBAL's module or name, a storage key
constexpr size_t kMaxDims = 64;                  // a tensor's dimensions
constexpr size_t kCopySlack = size_t{1} << 20;   // see Unpickler::chargeCopy

// Throws CheckpointError "path: <path>: <parts>" unless `cond` holds.
template <typename... Parts>
void checkFile(bool cond, const std::string& path, const Parts&... parts) {
  if (!cond) throw CheckpointError(detail::concat("path: ", path, ": ", parts...));
}

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Global {
  std::string module, name;
};
struct Storage {
  std::string key;
  c10::ScalarType dtype = c10::ScalarType::Float;
};
struct Dict {
  std::vector<std::pair<ValuePtr, ValuePtr>> items;
};
struct Sequence {
  std::vector<ValuePtr> items;  // tuples and lists
};
struct Mark {};
struct Opaque {};
struct None {};

struct Value {
  std::variant<None, bool, int64_t, double, std::string, Global, Storage, Dict, Sequence, at::Tensor, Mark, Opaque> v;
};

bool storageDtype(const std::string& name, c10::ScalarType& dtype) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"FloatStorage", c10::ScalarType::Float},  {"DoubleStorage", c10::ScalarType::Double},
      {"HalfStorage", c10::ScalarType::Half},    {"BFloat16Storage", c10::ScalarType::BFloat16},
      {"LongStorage", c10::ScalarType::Long},    {"IntStorage", c10::ScalarType::Int},
      {"ShortStorage", c10::ScalarType::Short},  {"CharStorage", c10::ScalarType::Char},
      {"ByteStorage", c10::ScalarType::Byte},    {"BoolStorage", c10::ScalarType::Bool},
      {"UntypedStorage", c10::ScalarType::Byte},
  };
  auto it = types.find(name);
  if (it == types.end()) return false;
  dtype = it->second;
  return true;
}

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// The sum of the uncompressed sizes that the zip's central directory declares, read the way
// miniz (inside PyTorchStreamReader) reads it; false when `path` is not a zip. PyTorchStreamReader
// allocates a record's declared size before inflating it, so this is checked against the file's
// size before anything is read: a torch.save file stores its records uncompressed and apart, so
// they never declare more than the file holds, while a deflated or overlapping crafted record could
// declare a thousand times more.
bool declaredRecordBytes(const std::string& path, uint64_t& total, uint64_t& fileSize) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) return false;
  fileSize = static_cast<uint64_t>(end);
  auto readAt = [&](uint64_t pos, uint8_t* buf, uint64_t n) {
    if (pos > fileSize || n > fileSize - pos) return false;
    in.seekg(static_cast<std::streamoff>(pos));
    return static_cast<bool>(in.read(reinterpret_cast<char*>(buf), static_cast<std::streamsize>(n)));
  };
  // The end-of-central-directory record: the last signature within its 22 bytes + a 64 KiB comment.
  constexpr uint64_t kEocd = 22;
  if (fileSize < kEocd) return false;
  const uint64_t tail = std::min<uint64_t>(fileSize, kEocd + 0xffff);
  std::vector<uint8_t> buf(tail);
  if (!readAt(fileSize - tail, buf.data(), tail)) return false;
  int64_t at = -1;
  for (int64_t i = static_cast<int64_t>(tail - kEocd); i >= 0; --i) {
    if (le(&buf[i], 4) == 0x06054b50) {
      at = i;
      break;
    }
  }
  if (at < 0) return false;
  const uint64_t eocdPos = fileSize - tail + static_cast<uint64_t>(at);
  uint64_t entries = le(&buf[at + 10], 2), cdOffset = le(&buf[at + 16], 4);
  // A zip64 locator right before it points at the zip64 record, which miniz then prefers.
  uint8_t loc[20], z64[56];
  if (eocdPos >= 20 + 56 && readAt(eocdPos - 20, loc, 20) && le(loc, 4) == 0x07064b50 &&
      readAt(le(loc + 8, 8), z64, 56) && le(z64, 4) == 0x06064b50) {
    entries = le(z64 + 32, 8);
    cdOffset = le(z64 + 48, 8);
  }
  // Each central-directory header is at least 46 bytes.
  if (entries > fileSize / 46) return false;
  total = 0;
  uint64_t pos = cdOffset;
  for (uint64_t e = 0; e < entries; ++e) {
    uint8_t h[46];
    if (!readAt(pos, h, 46) || le(h, 4) != 0x02014b50) return false;
    uint64_t size = le(h + 24, 4);
    const uint64_t nameLen = le(h + 28, 2), extraLen = le(h + 30, 2), commentLen = le(h + 32, 2);
    if (size == 0xffffffff) {
      // The real size is the first field of the zip64 extra block (id 1).
      std::vector<uint8_t> extra(extraLen);
      if (!readAt(pos + 46 + nameLen, extra.data(), extraLen)) return false;
      bool found = false;
      for (uint64_t i = 0; i + 4 <= extraLen;) {
        const uint64_t id = le(&extra[i], 2), len = le(&extra[i + 2], 2);
        if (id == 1 && len >= 8 && i + 4 + 8 <= extraLen) {
          size = le(&extra[i + 4], 8);
          found = true;
          break;
        }
        i += 4 + len;
      }
      if (!found) return false;
    }
    total += std::min(size, fileSize + 1);
    if (total > fileSize) return true;  // already too much; stops before the sum could overflow
    pos += 46 + nameLen + extraLen + commentLen;
  }
  return true;
}

// A pickle machine for what torch.save writes.
//
// Nothing here recurses over values, but values still nest: a list can hold a million nested lists
// or, through the memo, itself. Destroying such a value through shared_ptr would recurse once per
// level (and overflow the stack) or never free it, so every value made is also held in `all_`, and
// the destructor empties every container first: each value then dies on its own, with no children.
class Unpickler {
 public:
  // Modes: a torch.save state dict (tensors rebuilt from their storages; an object's state is
  // dropped), or an archive's header (`headerOnly`: no storage is read, tensors stay opaque, and
  // an object built by NEWOBJ + BUILD becomes its state, as libtorch's archive writes its records
  // as the state of one module object).
  Unpickler(const std::string& path, caffe2::serialize::PyTorchStreamReader& reader, const uint8_t* data, size_t size,
            uint64_t fileSize, bool headerOnly = false)
      : path_(path), reader_(reader), data_(data), size_(size), fileSize_(fileSize), headerOnly_(headerOnly) {}

  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  ~Unpickler() {
    stack_.clear();
    memo_.clear();
    for (auto& value : all_) {
      if (auto* d = std::get_if<Dict>(&value->v)) d->items.clear();
      if (auto* s = std::get_if<Sequence>(&value->v)) s->items.clear();
    }
  }

  ValuePtr run() {
    for (;;) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                                              // PROTO
        case 0x95: bytes(8); break;                                            // FRAME
        case '.': return pop();                                                // STOP
        case '(': push(make(Mark{})); break;                                   // MARK
        case '}': push(make(Dict{})); break;                                   // EMPTY_DICT
        case ']': push(make(Sequence{})); break;                               // EMPTY_LIST
        case ')': push(make(Sequence{})); break;                               // EMPTY_TUPLE
        case 'N': push(make(None{})); break;                                   // NONE
        case 0x88: push(make(true)); break;                                    // NEWTRUE
        case 0x89: push(make(false)); break;                                   // NEWFALSE
        case 'K': push(make<int64_t>(byte())); break;                          // BININT1
        case 'M': push(make<int64_t>(uint16())); break;                        // BININT2
        case 'J': push(make<int64_t>(static_cast<int32_t>(uint32()))); break;  // BININT
        case 0x8a: push(make(long1())); break;                                 // LONG1
        case 'G': push(make(float8())); break;                                 // BINFLOAT
        case 'X': push(make(str(uint32()))); break;                            // BINUNICODE
        case 0x8c: push(make(str(byte()))); break;                             // SHORT_BINUNICODE
        case 'T': push(make(str(uint32()))); break;                            // BINSTRING
        case 'U': push(make(str(byte()))); break;                              // SHORT_BINSTRING
        case 'q': memoize(byte()); break;                                      // BINPUT
        case 'r': memoize(uint32()); break;                                    // LONG_BINPUT
        case 0x94: memoize(memo_.size()); break;                               // MEMOIZE
        case 'h': push(memoAt(byte())); break;                                 // BINGET
        case 'j': push(memoAt(uint32())); break;                               // LONG_BINGET
        case 'c': {                                                            // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push(make(Global{module, name}));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop(), module = pop();
          push(make(Global{asName(module), asName(name)}));
          break;
        }
        case 't': push(make(Sequence{popToMark()})); break;  // TUPLE
        case 0x85: tupleN(1); break;                         // TUPLE1
        case 0x86: tupleN(2); break;                         // TUPLE2
        case 0x87: tupleN(3); break;                         // TUPLE3
        case 'a': {                                          // APPEND
          auto item = pop();
          if (auto* s = std::get_if<Sequence>(&top()->v)) s->items.push_back(item);
          break;
        }
        case 'e': {  // APPENDS
          auto items = popToMark();
          if (auto* s = std::get_if<Sequence>(&top()->v)) s->items.insert(s->items.end(), items.begin(), items.end());
          break;
        }
        case 's': {  // SETITEM
          auto value = pop(), key = pop();
          if (auto* d = std::get_if<Dict>(&top()->v)) d->items.emplace_back(key, value);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = popToMark();
          if (auto* d = std::get_if<Dict>(&top()->v)) {
            for (size_t i = 0; i + 1 < items.size(); i += 2) d->items.emplace_back(items[i], items[i + 1]);
          }
          break;
        }
        case 'b': {  // BUILD
          auto state = pop();
          if (headerOnly_ && std::holds_alternative<Opaque>(top()->v)) top() = state;
          break;
        }
        case 'R': {  // REDUCE
          auto args = pop(), callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          pop();
          pop();
          push(make(Opaque{}));
          break;
        }
        case 'Q': push(persistentLoad(pop())); break;  // BINPERSID
        default: fail("unsupported pickle opcode 0x", std::hex, static_cast<int>(op));
      }
    }
  }

  // Counts bytes copied out of strings the pickle already holds (names, storage keys, the state
  // dict's keys). A real pickle copies each such string about once, so the copies stay within its
  // size; a crafted one could otherwise copy one long memoized string a million times.
  void chargeCopy(size_t n) {
    copied_ += n;
    check(copied_ <= size_ + kCopySlack, "malformed pickle (strings reused too often)");
  }

 private:
  template <typename... Parts>
  void check(bool cond, const Parts&... parts) {
    checkFile(cond, path_, parts...);
  }
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) {
    checkFile(false, path_, parts...);
    throw std::logic_error("unreachable");
  }

  template <typename T>
  ValuePtr make(T x) {
    auto p = std::make_shared<Value>();
    p->v = std::move(x);
    all_.push_back(p);
    return p;
  }
  void push(ValuePtr v) {
    check(++pushed_ <= kMaxValues, "pickle holds more than ", kMaxValues, " values");
    stack_.push_back(std::move(v));
  }
  void memoize(size_t i) {
    ValuePtr value = top();
    auto& slot = memo_[i];
    check(memo_.size() <= kMaxMemo, "pickle memoizes more than ", kMaxMemo, " values");
    slot = std::move(value);
  }

  uint8_t byte() {
    check(pos_ < size_, "truncated pickle data");
    return data_[pos_++];
  }
  // Lengths come from the file: each is checked against the bytes left before anything is copied.
  const uint8_t* bytes(size_t n) {
    check(n <= size_ - pos_, "truncated pickle data");
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint16_t uint16() {
    const uint8_t* p = bytes(2);
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
  }
  uint32_t uint32() { return static_cast<uint32_t>(le(bytes(4), 4)); }
  int64_t long1() {
    const uint8_t n = byte();
    const uint8_t* p = bytes(n);
    check(n <= 8, "integer too large");
    uint64_t v = le(p, n);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  double float8() {
    const uint8_t* p = bytes(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  std::string str(size_t n) {
    const uint8_t* p = bytes(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string line() {
    std::string s;
    for (uint8_t c = byte(); c != '\n'; c = byte()) {
      s.push_back(static_cast<char>(c));
      check(s.size() <= kMaxNameBytes, "malformed pickle (name longer than ", kMaxNameBytes, " bytes)");
    }
    return s;
  }

  ValuePtr pop() {
    check(!stack_.empty(), "malformed pickle (stack underflow)");
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    check(!stack_.empty(), "malformed pickle (empty stack)");
    return stack_.back();
  }
  std::vector<ValuePtr> popToMark() {
    std::vector<ValuePtr> items;
    for (;;) {
      auto v = pop();
      if (std::holds_alternative<Mark>(v->v)) break;
      items.push_back(std::move(v));
    }
    return {items.rbegin(), items.rend()};
  }
  void tupleN(size_t n) {
    std::vector<ValuePtr> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    push(make(Sequence{std::move(items)}));
  }
  ValuePtr memoAt(size_t i) {
    auto it = memo_.find(i);
    check(it != memo_.end(), "malformed pickle (memo ", i, ")");
    return it->second;
  }
  std::string asName(const ValuePtr& v) {
    auto* s = std::get_if<std::string>(&v->v);
    check(s != nullptr, "malformed pickle (expected a string)");
    check(s->size() <= kMaxNameBytes, "malformed pickle (name longer than ", kMaxNameBytes, " bytes)");
    chargeCopy(s->size());
    return *s;
  }
  int64_t asInt(const ValuePtr& v) {
    auto* i = std::get_if<int64_t>(&v->v);
    check(i != nullptr, "malformed pickle (expected an integer)");
    return *i;
  }
  std::vector<int64_t> asDims(const ValuePtr& v) {
    auto* s = std::get_if<Sequence>(&v->v);
    check(s != nullptr, "malformed tensor record (expected a tuple)");
    check(s->items.size() <= kMaxDims, "tensor has more than ", kMaxDims, " dimensions");
    std::vector<int64_t> out;
    for (const auto& item : s->items) out.push_back(asInt(item));
    return out;
  }

  // ('storage', storage_type, key, location, numel) → the storage's bytes, typed.
  ValuePtr persistentLoad(const ValuePtr& pid) {
    auto* t = std::get_if<Sequence>(&pid->v);
    check(t && t->items.size() >= 3, "malformed persistent id");
    auto* g = std::get_if<Global>(&t->items[1]->v);
    check(g != nullptr, "malformed storage type");
    Storage storage{asName(t->items[2])};
    check(storageDtype(g->name, storage.dtype), "unsupported storage type ", g->module, ".", g->name);
    return make(std::move(storage));
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& argsValue) {
    auto* g = std::get_if<Global>(&callable->v);
    auto* args = std::get_if<Sequence>(&argsValue->v);
    if (!g || !args) return make(Opaque{});
    const std::string full = g->module + "." + g->name;
    if (full == "collections.OrderedDict" || full == "builtins.dict") return make(Dict{});
    if (full == "torch._utils._rebuild_tensor_v2" || full == "torch._utils._rebuild_tensor") {
      if (headerOnly_) return make(Opaque{});  // the weights are not read
      check(args->items.size() >= 4, "malformed tensor record");
      auto* storage = std::get_if<Storage>(&args->items[0]->v);
      check(storage != nullptr, "malformed tensor storage");
      return make(rebuildTensor(*storage, asInt(args->items[1]), asDims(args->items[2]), asDims(args->items[3])));
    }
    if (full == "torch._utils._rebuild_parameter" || full == "torch._utils._rebuild_parameter_with_state") {
      check(!args->items.empty(), "malformed parameter record");
      return args->items[0];
    }
    return make(Opaque{});
  }

  // The record's bytes, read once per key. Record names are looked up case-insensitively, so
  // different keys may name one record: the bytes read in all are bounded by the file's size.
  const at::Tensor& storageBytes(const std::string& key) {
    auto it = storages_.find(key);
    if (it != storages_.end()) return it->second;
    const std::string record = "data/" + key;
    check(reader_.hasRecord(record), "missing storage record '", record, "'");
    at::DataPtr ptr;
    size_t nbytes = 0;
    try {
      std::tie(ptr, nbytes) = reader_.getRecord(record);
    } catch (const c10::Error& e) {
      fail("cannot read record '", record, "' (", e.what_without_backtrace(), ")");
    }
    read_ += nbytes;
    check(read_ <= fileSize_, "storage records overlap");
    at::Tensor bytes = at::empty({static_cast<int64_t>(nbytes)}, at::TensorOptions().dtype(at::kByte));
    if (nbytes > 0) std::memcpy(bytes.data_ptr(), ptr.get(), nbytes);
    return storages_.emplace(key, bytes).first->second;
  }

  // A view of the storage, as torch.load makes it (tensors sharing a storage in the file share it
  // here). Every number comes from the file, so the view is checked to lie inside the storage with
  // overflow-checked arithmetic before as_strided sees it.
  at::Tensor rebuildTensor(const Storage& storage, int64_t offset, const std::vector<int64_t>& size,
                           const std::vector<int64_t>& stride) {
    check(++tensors_ <= kMaxTensors, "pickle rebuilds more than ", kMaxTensors, " tensors");
    check(size.size() == stride.size(), "tensor has ", size.size(), " sizes but ", stride.size(), " strides");
    check(offset >= 0, "tensor has a negative storage offset");
    int64_t numel = 1, last = offset;  // last: the furthest element the view reaches
    for (size_t d = 0; d < size.size(); ++d) {
      check(size[d] >= 0 && stride[d] >= 0, "tensor has a negative size or stride");
      check(!__builtin_mul_overflow(numel, size[d], &numel), "tensor is too large");
      int64_t reach = 0;
      if (size[d] > 0) {
        check(!__builtin_mul_overflow(size[d] - 1, stride[d], &reach) && !__builtin_add_overflow(last, reach, &last),
              "tensor exceeds its storage");
      }
    }
    const at::Tensor& bytes = storageBytes(storage.key);
    const int64_t itemSize = static_cast<int64_t>(c10::elementSize(storage.dtype));
    check(bytes.numel() % itemSize == 0, "storage '", storage.key, "' of ", bytes.numel(),
          " bytes does not hold whole ", c10::toString(storage.dtype), " elements");
    const at::Tensor flat = bytes.view(storage.dtype);
    // An empty tensor reads nothing, whatever its offset (as in PyTorch).
    check(numel == 0 || last < flat.numel(), "tensor exceeds its storage");
    return flat.as_strided(size, stride, offset);
  }

  std::string path_;
  caffe2::serialize::PyTorchStreamReader& reader_;
  const uint8_t* data_;
  size_t size_;
  uint64_t fileSize_;
  bool headerOnly_;
  size_t pos_ = 0;
  size_t pushed_ = 0;
  size_t tensors_ = 0;
  size_t copied_ = 0;
  uint64_t read_ = 0;
  std::vector<ValuePtr> stack_;
  std::map<size_t, ValuePtr> memo_;
  std::vector<ValuePtr> all_;
  std::map<std::string, at::Tensor> storages_;
};

const Dict* findStateDict(const ValuePtr& root) {
  auto* dict = std::get_if<Dict>(&root->v);
  if (!dict) return nullptr;
  for (const char* wrapper : {"model", "state_dict"}) {
    for (const auto& [k, v] : dict->items) {
      auto* key = std::get_if<std::string>(&k->v);
      if (key && *key == wrapper && std::holds_alternative<Dict>(v->v)) return &std::get<Dict>(v->v);
    }
  }
  return dict;
}

}  // namespace

namespace {

// The zip's reader and its data.pkl, after the checks every read starts with. `what` names the
// expected kind of file in the TypeError for something that is not a torch zip, `hint` follows it.
struct OpenedPickle {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  at::DataPtr data;
  size_t size = 0;
  uint64_t fileSize = 0;
};

OpenedPickle openPickle(const std::string& path, const char* what, const char* hint) {
  OpenedPickle o;
  uint64_t declared = 0;
  checkType(declaredRecordBytes(path, declared, o.fileSize), "path: ", path, " is not ", what, hint);
  checkFile(declared <= o.fileSize, path, "zip records declare more bytes than the file holds");
  try {
    o.reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception&) {
    checkType(false, "path: ", path, " is not ", what, hint);
  }
  checkType(o.reader->hasRecord("data.pkl"), "path: ", path, " is not ", what, " (no data.pkl)");
  try {
    std::tie(o.data, o.size) = o.reader->getRecord("data.pkl");
  } catch (const c10::Error& e) {
    checkFile(false, path, "cannot read record 'data.pkl' (", e.what_without_backtrace(), ")");
  }
  return o;
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> readPthStateDict(const std::string& path) {
  OpenedPickle opened =
      openPickle(path, "a PyTorch state dict", " (expected a torch.save zip archive, PyTorch >= 1.6)");
  std::vector<std::pair<std::string, at::Tensor>> out;
  Unpickler unpickler(path, *opened.reader, static_cast<const uint8_t*>(opened.data.get()), opened.size,
                      opened.fileSize);
  ValuePtr root = unpickler.run();
  const Dict* state = findStateDict(root);
  checkType(state != nullptr, "path: ", path, " does not hold a dict of tensors");
  for (const auto& [k, v] : state->items) {
    auto* key = std::get_if<std::string>(&k->v);
    auto* tensor = std::get_if<at::Tensor>(&v->v);
    if (!key || !tensor) continue;
    unpickler.chargeCopy(key->size());
    out.emplace_back(*key, *tensor);
  }
  return out;
}

ArchiveHeader readArchiveHeader(const std::string& path) {
  OpenedPickle opened = openPickle(path, "an align-detr checkpoint", " (truncated or foreign file)");
  Unpickler unpickler(path, *opened.reader, static_cast<const uint8_t*>(opened.data.get()), opened.size,
                      opened.fileSize, /*headerOnly=*/true);
  ValuePtr root = unpickler.run();
  auto* dict = std::get_if<Dict>(&root->v);
  checkType(dict != nullptr, "path: ", path, " is not an align-detr checkpoint (no record table)");
  ArchiveHeader header;
  for (const auto& [k, v] : dict->items) {
    auto* key = std::get_if<std::string>(&k->v);
    if (!key) continue;
    if (auto* text = std::get_if<std::string>(&v->v)) {
      unpickler.chargeCopy(key->size() + text->size());
      header.strings[*key] = *text;
    } else if (auto* number = std::get_if<int64_t>(&v->v)) {
      unpickler.chargeCopy(key->size());
      header.integers[*key] = *number;
    }
  }
  return header;
}

}  // namespace adetr::model
