#include "model/pth_reader.h"

#include <ATen/ops/empty.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <memory>
#include <variant>

#include "common/arg_error.h"

namespace adetr::model {

namespace {

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

template <typename T>
ValuePtr make(T x) {
  auto p = std::make_shared<Value>();
  p->v = std::move(x);
  return p;
}

c10::ScalarType storageDtype(const std::string& name) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"FloatStorage", c10::ScalarType::Float},     {"DoubleStorage", c10::ScalarType::Double},
      {"HalfStorage", c10::ScalarType::Half},       {"BFloat16Storage", c10::ScalarType::BFloat16},
      {"LongStorage", c10::ScalarType::Long},       {"IntStorage", c10::ScalarType::Int},
      {"ShortStorage", c10::ScalarType::Short},     {"CharStorage", c10::ScalarType::Char},
      {"ByteStorage", c10::ScalarType::Byte},       {"BoolStorage", c10::ScalarType::Bool},
      {"UntypedStorage", c10::ScalarType::Byte},
  };
  auto it = types.find(name);
  checkType(it != types.end(), "checkpoint: unsupported storage type torch.", name);
  return it->second;
}

// A pickle machine for what torch.save writes.
class Unpickler {
 public:
  Unpickler(const std::string& path, caffe2::serialize::PyTorchStreamReader& reader, const std::vector<uint8_t>& data)
      : path_(path), reader_(reader), data_(data) {}

  ValuePtr run() {
    for (;;) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                                    // PROTO
        case 0x95: bytes(8); break;                                  // FRAME
        case '.': return pop();                                      // STOP
        case '(': stack_.push_back(make(Mark{})); break;             // MARK
        case '}': stack_.push_back(make(Dict{})); break;             // EMPTY_DICT
        case ']': stack_.push_back(make(Sequence{})); break;         // EMPTY_LIST
        case ')': stack_.push_back(make(Sequence{})); break;         // EMPTY_TUPLE
        case 'N': stack_.push_back(make(None{})); break;             // NONE
        case 0x88: stack_.push_back(make(true)); break;              // NEWTRUE
        case 0x89: stack_.push_back(make(false)); break;             // NEWFALSE
        case 'K': stack_.push_back(make<int64_t>(byte())); break;    // BININT1
        case 'M': stack_.push_back(make<int64_t>(uint16())); break;  // BININT2
        case 'J': stack_.push_back(make<int64_t>(static_cast<int32_t>(uint32()))); break;  // BININT
        case 0x8a: stack_.push_back(make(long1())); break;           // LONG1
        case 'G': stack_.push_back(make(float8())); break;           // BINFLOAT
        case 'X': stack_.push_back(make(str(uint32()))); break;      // BINUNICODE
        case 0x8c: stack_.push_back(make(str(byte()))); break;       // SHORT_BINUNICODE
        case 'T': stack_.push_back(make(str(uint32()))); break;      // BINSTRING
        case 'U': stack_.push_back(make(str(byte()))); break;        // SHORT_BINSTRING
        case 'q': memo_[byte()] = top(); break;                      // BINPUT
        case 'r': memo_[uint32()] = top(); break;                    // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;               // MEMOIZE
        case 'h': stack_.push_back(memoAt(byte())); break;           // BINGET
        case 'j': stack_.push_back(memoAt(uint32())); break;         // LONG_BINGET
        case 'c': {                                                  // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          stack_.push_back(make(Global{module, name}));
          break;
        }
        case 0x93: {                                                 // STACK_GLOBAL
          auto name = pop(), module = pop();
          stack_.push_back(make(Global{asString(module), asString(name)}));
          break;
        }
        case 't': stack_.push_back(make(Sequence{popToMark()})); break;  // TUPLE
        case 0x85: tupleN(1); break;                                 // TUPLE1
        case 0x86: tupleN(2); break;                                 // TUPLE2
        case 0x87: tupleN(3); break;                                 // TUPLE3
        case 'a': {                                                  // APPEND
          auto item = pop();
          if (auto* s = std::get_if<Sequence>(&top()->v)) s->items.push_back(item);
          break;
        }
        case 'e': {                                                  // APPENDS
          auto items = popToMark();
          if (auto* s = std::get_if<Sequence>(&top()->v)) s->items.insert(s->items.end(), items.begin(), items.end());
          break;
        }
        case 's': {                                                  // SETITEM
          auto value = pop(), key = pop();
          if (auto* d = std::get_if<Dict>(&top()->v)) d->items.emplace_back(key, value);
          break;
        }
        case 'u': {                                                  // SETITEMS
          auto items = popToMark();
          if (auto* d = std::get_if<Dict>(&top()->v)) {
            for (size_t i = 0; i + 1 < items.size(); i += 2) d->items.emplace_back(items[i], items[i + 1]);
          }
          break;
        }
        case 'b': pop(); break;                                      // BUILD: object state is not needed
        case 'R': {                                                  // REDUCE
          auto args = pop(), callable = pop();
          stack_.push_back(reduce(callable, args));
          break;
        }
        case 0x81: {                                                 // NEWOBJ
          pop();
          pop();
          stack_.push_back(make(Opaque{}));
          break;
        }
        case 'Q': stack_.push_back(persistentLoad(pop())); break;    // BINPERSID
        default:
          checkType(false, "path: ", path_, ": unsupported pickle opcode 0x", std::hex, static_cast<int>(op));
      }
    }
  }

 private:
  uint8_t byte() {
    checkType(pos_ < data_.size(), "path: ", path_, ": truncated pickle data");
    return data_[pos_++];
  }
  const uint8_t* bytes(size_t n) {
    checkType(pos_ + n <= data_.size(), "path: ", path_, ": truncated pickle data");
    const uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint16_t uint16() { const uint8_t* p = bytes(2); return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
  uint32_t uint32() {
    const uint8_t* p = bytes(4);
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
  }
  int64_t long1() {
    const uint8_t n = byte();
    const uint8_t* p = bytes(n);
    checkType(n <= 8, "path: ", path_, ": integer too large");
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
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
  std::string str(size_t n) { const uint8_t* p = bytes(n); return std::string(reinterpret_cast<const char*>(p), n); }
  std::string line() {
    std::string s;
    for (uint8_t c = byte(); c != '\n'; c = byte()) s.push_back(static_cast<char>(c));
    return s;
  }

  ValuePtr pop() {
    checkType(!stack_.empty(), "path: ", path_, ": malformed pickle (stack underflow)");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    checkType(!stack_.empty(), "path: ", path_, ": malformed pickle (empty stack)");
    return stack_.back();
  }
  std::vector<ValuePtr> popToMark() {
    std::vector<ValuePtr> items;
    for (;;) {
      auto v = pop();
      if (std::holds_alternative<Mark>(v->v)) break;
      items.push_back(v);
    }
    return {items.rbegin(), items.rend()};
  }
  void tupleN(size_t n) {
    std::vector<ValuePtr> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    stack_.push_back(make(Sequence{items}));
  }
  ValuePtr memoAt(size_t i) {
    auto it = memo_.find(i);
    checkType(it != memo_.end(), "path: ", path_, ": malformed pickle (memo ", i, ")");
    return it->second;
  }
  std::string asString(const ValuePtr& v) {
    auto* s = std::get_if<std::string>(&v->v);
    checkType(s != nullptr, "path: ", path_, ": malformed pickle (expected a string)");
    return *s;
  }
  int64_t asInt(const ValuePtr& v) {
    auto* i = std::get_if<int64_t>(&v->v);
    checkType(i != nullptr, "path: ", path_, ": malformed pickle (expected an integer)");
    return *i;
  }
  std::vector<int64_t> asInts(const ValuePtr& v) {
    auto* s = std::get_if<Sequence>(&v->v);
    checkType(s != nullptr, "path: ", path_, ": malformed pickle (expected a tuple)");
    std::vector<int64_t> out;
    for (const auto& item : s->items) out.push_back(asInt(item));
    return out;
  }

  // ('storage', storage_type, key, location, numel) → the storage's bytes, typed.
  ValuePtr persistentLoad(const ValuePtr& pid) {
    auto* t = std::get_if<Sequence>(&pid->v);
    checkType(t && t->items.size() >= 3, "path: ", path_, ": malformed persistent id");
    auto* g = std::get_if<Global>(&t->items[1]->v);
    checkType(g != nullptr, "path: ", path_, ": malformed storage type");
    return make(Storage{asString(t->items[2]), storageDtype(g->name)});
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& argsValue) {
    auto* g = std::get_if<Global>(&callable->v);
    auto* args = std::get_if<Sequence>(&argsValue->v);
    if (!g || !args) return make(Opaque{});
    const std::string full = g->module + "." + g->name;
    if (full == "collections.OrderedDict" || full == "builtins.dict") return make(Dict{});
    if (full == "torch._utils._rebuild_tensor_v2" || full == "torch._utils._rebuild_tensor") {
      checkType(args->items.size() >= 4, "path: ", path_, ": malformed tensor record");
      auto* storage = std::get_if<Storage>(&args->items[0]->v);
      checkType(storage != nullptr, "path: ", path_, ": malformed tensor storage");
      return make(rebuildTensor(*storage, asInt(args->items[1]), asInts(args->items[2]), asInts(args->items[3])));
    }
    if (full == "torch._utils._rebuild_parameter" || full == "torch._utils._rebuild_parameter_with_state") {
      checkType(!args->items.empty(), "path: ", path_, ": malformed parameter record");
      return args->items[0];
    }
    return make(Opaque{});
  }

  at::Tensor rebuildTensor(const Storage& storage, int64_t offset, const std::vector<int64_t>& size,
                           const std::vector<int64_t>& stride) {
    auto it = storages_.find(storage.key);
    if (it == storages_.end()) {
      auto [ptr, nbytes] = reader_.getRecord("data/" + storage.key);
      const int64_t itemSize = static_cast<int64_t>(c10::elementSize(storage.dtype));
      at::Tensor flat = at::empty({static_cast<int64_t>(nbytes) / itemSize}, at::TensorOptions().dtype(storage.dtype));
      if (nbytes > 0) std::memcpy(flat.data_ptr(), ptr.get(), nbytes);
      it = storages_.emplace(storage.key, flat).first;
    }
    const at::Tensor& flat = it->second;
    int64_t extent = offset;
    for (size_t d = 0; d < size.size(); ++d) extent += (size[d] - 1) * stride[d];
    checkType(size.empty() || extent < flat.numel() || flat.numel() == 0, "path: ", path_, ": tensor exceeds its storage");
    return flat.as_strided(size, stride, offset).clone();
  }

  std::string path_;
  caffe2::serialize::PyTorchStreamReader& reader_;
  const std::vector<uint8_t>& data_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::map<size_t, ValuePtr> memo_;
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

std::vector<std::pair<std::string, at::Tensor>> readPthStateDict(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception&) {
    checkType(false, "path: ", path, " is not a PyTorch state dict (expected a torch.save zip archive, PyTorch >= 1.6)");
  }
  checkType(reader->hasRecord("data.pkl"), "path: ", path, " is not a PyTorch state dict (no data.pkl)");
  auto [ptr, size] = reader->getRecord("data.pkl");
  std::vector<uint8_t> data(static_cast<const uint8_t*>(ptr.get()), static_cast<const uint8_t*>(ptr.get()) + size);
  Unpickler unpickler(path, *reader, data);
  ValuePtr root = unpickler.run();
  const Dict* state = findStateDict(root);
  checkType(state != nullptr, "path: ", path, " does not hold a dict of tensors");
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [k, v] : state->items) {
    auto* key = std::get_if<std::string>(&k->v);
    auto* tensor = std::get_if<at::Tensor>(&v->v);
    if (key && tensor) out.emplace_back(*key, *tensor);
  }
  return out;
}

}  // namespace adetr::model
