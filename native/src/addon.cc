// shmframe's native backend for Node: SharedArrayBuffers over shared mappings (memfd, POSIX shm,
// files), futex waits and wakes that reach other processes, and one relay thread per mapped heap
// that turns cross-process wakes into callbacks on the event loops that wait asynchronously.
//
// A thin layer: every argument is checked in TypeScript (src/native/) before it gets here; this
// file checks only what keeps the process from crashing on a programming error.
//
// Why the V8 API and not Node-API: Node-API on Node 20 cannot make a SharedArrayBuffer over
// memory it did not allocate (an external ArrayBuffer is copied when posted to a worker and
// refused by Atomics.wait). `SharedArrayBuffer::NewBackingStore` with a deleter can, and its
// backing store is shared across isolates and freed after the last one lets go.
#include <node.h>
#include <uv.h>
#include <v8.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "sys.h"

namespace shmframe {

using v8::Context;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::Global;
using v8::HandleScope;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Value;

namespace {

void Throw(Isolate* isolate, const std::string& message) {
  isolate->ThrowException(
      v8::Exception::Error(String::NewFromUtf8(isolate, message.c_str()).ToLocalChecked()));
}

// ---------------------------------------------------------------- mappings

// One mapping per segment per process: two mappings of one segment in one process do not wake
// each other through Atomics (V8 keys its waiters by virtual address), so a second open of the
// same segment (same device and inode) in any thread gets the backing store already mapped.
struct Mapping {
  void* addr;
  size_t size;
  std::weak_ptr<v8::BackingStore> store;
};

std::mutex g_maps_mutex;
std::map<std::string, Mapping>* g_maps = new std::map<std::string, Mapping>();

struct Unmapper {
  std::string key;
  size_t size;
};

void Unmap(void* data, size_t length, void* deleter_data) {
  auto* u = static_cast<Unmapper*>(deleter_data);
  {
    std::lock_guard<std::mutex> lock(g_maps_mutex);
    auto it = g_maps->find(u->key);
    if (it != g_maps->end() && it->second.addr == data) g_maps->erase(it);
  }
  sf_unmap(data, static_cast<int64_t>(u->size));
  delete u;
}

std::shared_ptr<v8::BackingStore> StoreOf(Local<Value> value) {
  if (!value->IsSharedArrayBuffer()) return nullptr;
  return value.As<SharedArrayBuffer>()->GetBackingStore();
}

// map(fd, size, key) -> SharedArrayBuffer over mmap(MAP_SHARED) of the first `size` bytes of fd.
void Map(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsInt32() || !args[1]->IsNumber() || !args[2]->IsString()) {
    return Throw(isolate, "map(fd, size, key): bad arguments");
  }
  int fd = args[0].As<Integer>()->Value();
  double size_d = args[1].As<Number>()->Value();
  if (!(size_d > 0) || size_d > 9.0e15) return Throw(isolate, "map: bad size");
  size_t size = static_cast<size_t>(size_d);
  String::Utf8Value key_utf8(isolate, args[2]);
  std::string key(*key_utf8, key_utf8.length());

  std::shared_ptr<v8::BackingStore> store;
  {
    std::lock_guard<std::mutex> lock(g_maps_mutex);
    auto it = g_maps->find(key);
    if (it != g_maps->end()) {
      store = it->second.store.lock();
      if (store && store->ByteLength() != size) {
        return Throw(isolate, "map: the segment is already mapped with another size");
      }
    }
    if (!store) {
      void* addr = sf_map(fd, static_cast<int64_t>(size));
      if (addr == nullptr) {
        int e = errno;
        return Throw(isolate, std::string("mmap failed: ") + strerror(e) + " (errno " +
                                  std::to_string(e) + ")");
      }
      auto* u = new Unmapper{key, size};
      std::unique_ptr<v8::BackingStore> made =
          SharedArrayBuffer::NewBackingStore(addr, size, Unmap, u);
      store = std::move(made);
      (*g_maps)[key] = Mapping{addr, size, store};
    }
  }
  args.GetReturnValue().Set(SharedArrayBuffer::New(isolate, store));
}

// mapped(key) -> true when this process has the segment mapped (some isolate holds it).
void Mapped(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsString()) return Throw(isolate, "mapped(key): bad arguments");
  String::Utf8Value key_utf8(isolate, args[0]);
  std::string key(*key_utf8, key_utf8.length());
  std::lock_guard<std::mutex> lock(g_maps_mutex);
  auto it = g_maps->find(key);
  args.GetReturnValue().Set(it != g_maps->end() && !it->second.store.expired());
}

// ---------------------------------------------------------------- futexes

// The word at `byteOffset` of a SharedArrayBuffer (4-byte aligned, inside the buffer), or null.
int32_t* WordOf(const FunctionCallbackInfo<Value>& args, int i) {
  std::shared_ptr<v8::BackingStore> store = StoreOf(args[i]);
  if (!store || !args[i + 1]->IsNumber()) return nullptr;
  double off = args[i + 1].As<Number>()->Value();
  if (!(off >= 0) || off + 4 > static_cast<double>(store->ByteLength())) return nullptr;
  size_t o = static_cast<size_t>(off);
  if (o % 4 != 0) return nullptr;
  return reinterpret_cast<int32_t*>(static_cast<char*>(store->Data()) + o);
}

// futexWait(sab, byteOffset, expected, timeoutMs) -> 0 woken, 1 not-equal, 2 timed out, 3 EINTR.
void FutexWait(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int32_t* word = WordOf(args, 0);
  if (word == nullptr || !args[2]->IsNumber() || !args[3]->IsNumber()) {
    return Throw(isolate, "futexWait(sab, byteOffset, expected, timeoutMs): bad arguments");
  }
  int32_t expected = static_cast<int32_t>(args[2].As<Number>()->Value());
  double timeout = args[3].As<Number>()->Value();
  int r = sf_futex_wait(word, expected, timeout);
  args.GetReturnValue().Set(r);
}

// futexWake(sab, byteOffset, count) -> number woken.
void FutexWake(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int32_t* word = WordOf(args, 0);
  if (word == nullptr || !args[2]->IsNumber()) {
    return Throw(isolate, "futexWake(sab, byteOffset, count): bad arguments");
  }
  double n = args[2].As<Number>()->Value();
  int32_t count = n >= 2147483647.0 ? 2147483647 : (n < 1 ? 1 : static_cast<int32_t>(n));
  args.GetReturnValue().Set(sf_futex_wake(word, count));
}

// ---------------------------------------------------------------- relay

// An event loop (the main thread's or a worker's) that waits asynchronously on some process
// heap. The relay threads wake it with uv_async_send; its callback (set by JS) then notifies
// the words its pending async waits sleep on, so V8's Atomics.waitAsync promises re-check.
struct Env {
  Isolate* isolate;
  uv_async_t async;
  Global<Function> callback;
  bool closing = false;
};

// A thread that sleeps on one heap's doorbell word for this process and wakes every
// subscribed event loop when another process rings it.
struct Relay {
  std::shared_ptr<v8::BackingStore> store;  // keeps the mapping alive while the thread runs
  int32_t* doorbell;
  // The doorbell value last seen: read when the relay is created (before JS goes on to wait),
  // so a ring between then and the thread's first wait is not lost.
  int32_t last;
  std::atomic<bool> stop{false};
  std::set<Env*> envs;  // guarded by g_relay_mutex
};

std::mutex g_relay_mutex;
std::map<int32_t*, Relay*>* g_relays = new std::map<int32_t*, Relay*>();
thread_local Env* t_env = nullptr;

void RelayMain(Relay* relay) {
  int32_t last = relay->last;
  for (;;) {
    // Bounded so that a stop request is seen even if its wake raced with the wait.
    sf_futex_wait(relay->doorbell, last, 1000.0);
    if (relay->stop.load()) break;
    int32_t now = sf_load(relay->doorbell);
    if (now == last) continue;
    last = now;
    std::lock_guard<std::mutex> lock(g_relay_mutex);
    for (Env* env : relay->envs) uv_async_send(&env->async);
  }
  delete relay;
}

void OnAsync(uv_async_t* handle) {
  Env* env = static_cast<Env*>(handle->data);
  if (env->closing || env->callback.IsEmpty()) return;
  Isolate* isolate = env->isolate;
  HandleScope scope(isolate);
  Local<Function> fn = env->callback.Get(isolate);
  Local<Context> context = fn->GetCreationContextChecked();
  Context::Scope context_scope(context);
  node::MakeCallback(isolate, context->Global(), fn, 0, nullptr, {0, 0});
}

void EnvCleanup(void* arg) {
  Env* env = static_cast<Env*>(arg);
  {
    std::lock_guard<std::mutex> lock(g_relay_mutex);
    for (auto it = g_relays->begin(); it != g_relays->end();) {
      Relay* relay = it->second;
      relay->envs.erase(env);
      if (relay->envs.empty()) {
        relay->stop.store(true);
        sf_futex_wake(relay->doorbell, 1 << 30);
        it = g_relays->erase(it);
      } else {
        ++it;
      }
    }
  }
  env->closing = true;
  env->callback.Reset();
  if (t_env == env) t_env = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&env->async),
           [](uv_handle_t* h) { delete static_cast<Env*>(h->data); });
}

// relayCallback(fn): the function this event loop runs when a relay rings it (once per loop).
void RelayCallback(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsFunction()) return Throw(isolate, "relayCallback(fn): bad arguments");
  if (t_env == nullptr) {
    Env* env = new Env();
    env->isolate = isolate;
    env->async.data = env;
    uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
    if (loop == nullptr || uv_async_init(loop, &env->async, OnAsync) != 0) {
      delete env;
      return Throw(isolate, "relayCallback: could not attach to the event loop");
    }
    // Pending async waits keep the loop alive by themselves (src/sync/wait.ts); the relay's
    // handle must not.
    uv_unref(reinterpret_cast<uv_handle_t*>(&env->async));
    node::AddEnvironmentCleanupHook(isolate, EnvCleanup, env);
    t_env = env;
  }
  t_env->callback.Reset(isolate, args[0].As<Function>());
}

// relaySubscribe(sab, doorbellByteOffset): this event loop is rung when the doorbell changes.
void RelaySubscribe(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int32_t* word = WordOf(args, 0);
  if (word == nullptr) return Throw(isolate, "relaySubscribe(sab, byteOffset): bad arguments");
  if (t_env == nullptr) return Throw(isolate, "relaySubscribe: call relayCallback first");
  std::lock_guard<std::mutex> lock(g_relay_mutex);
  auto it = g_relays->find(word);
  Relay* relay;
  if (it == g_relays->end()) {
    relay = new Relay();
    relay->store = StoreOf(args[0]);
    relay->doorbell = word;
    relay->last = sf_load(word);
    (*g_relays)[word] = relay;
    std::thread(RelayMain, relay).detach();
  } else {
    relay = it->second;
  }
  relay->envs.insert(t_env);
}

// relayUnsubscribe(sab, doorbellByteOffset): stops ringing this loop; the last one stops the thread.
void RelayUnsubscribe(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int32_t* word = WordOf(args, 0);
  if (word == nullptr) return Throw(isolate, "relayUnsubscribe(sab, byteOffset): bad arguments");
  std::lock_guard<std::mutex> lock(g_relay_mutex);
  auto it = g_relays->find(word);
  if (it == g_relays->end() || t_env == nullptr) return;
  Relay* relay = it->second;
  relay->envs.erase(t_env);
  if (relay->envs.empty()) {
    relay->stop.store(true);
    sf_futex_wake(relay->doorbell, 1 << 30);
    g_relays->erase(it);
  }
}

// ---------------------------------------------------------------- files

// memfd(name, size) -> fd or -errno
void Memfd(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsString() || !args[1]->IsNumber()) {
    return Throw(isolate, "memfd(name, size): bad arguments");
  }
  String::Utf8Value name(isolate, args[0]);
  args.GetReturnValue().Set(
      sf_memfd(*name, static_cast<int64_t>(args[1].As<Number>()->Value())));
}

// reserve(fd, offset, size) -> 0 or -errno
void Reserve(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsInt32() || !args[1]->IsNumber() || !args[2]->IsNumber()) {
    return Throw(isolate, "reserve(fd, offset, size): bad arguments");
  }
  args.GetReturnValue().Set(sf_reserve(args[0].As<Integer>()->Value(),
                                       static_cast<int64_t>(args[1].As<Number>()->Value()),
                                       static_cast<int64_t>(args[2].As<Number>()->Value())));
}

// Marked reference operations on a mapped heap (a process heap): the atomic change and its
// phase mark in one native call, so a process killed with SIGKILL has done both or neither but for
// the one instruction between them. (In JavaScript the two are separate operations with up to
// hundreds of instructions between them in unoptimized code: a kill landing there leaked a block
// about once in a thousand kills.) Heaps are named by a small id from markBase(sab), which keeps
// the mapping's address; words are indexes of int32 words from the start of the mapping.
constexpr int kMarkBases = 4096;
std::atomic<int32_t*> g_mark_bases[kMarkBases];
std::atomic<int> g_mark_count{0};
std::mutex g_mark_mutex;

// markBase(sab) -> id for the marked operations, or -1 when sab is not a mapping of this addon
// (a thread heap: JavaScript's own atomics serve it).
void MarkBase(const FunctionCallbackInfo<Value>& args) {
  std::shared_ptr<v8::BackingStore> store = StoreOf(args[0]);
  int id = -1;
  if (store) {
    void* data = store->Data();
    bool ours = false;
    {
      std::lock_guard<std::mutex> lock(g_maps_mutex);
      for (const auto& entry : *g_maps) {
        if (entry.second.addr == data) {
          ours = true;
          break;
        }
      }
    }
    if (ours) {
      std::lock_guard<std::mutex> lock(g_mark_mutex);
      int n = g_mark_count.load();
      for (int i = 0; i < n; i++) {
        if (g_mark_bases[i].load() == data) {
          id = i;
          break;
        }
      }
      if (id < 0 && n < kMarkBases) {
        g_mark_bases[n].store(static_cast<int32_t*>(data));
        g_mark_count.store(n + 1);
        id = n;
      }
    }
  }
  args.GetReturnValue().Set(id);
}

// An int32 argument with ToInt32's wrap (values come from Int32Array words, or their unsigned
// reading); the caller passes numbers only.
inline int32_t I32(const FunctionCallbackInfo<Value>& args, int at) {
  Local<Value> v = args[at];
  if (v->IsInt32()) return v.As<v8::Int32>()->Value();
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(v.As<Number>()->Value())));
}

inline int32_t* MarkWord(const FunctionCallbackInfo<Value>& args, int at) {
  return g_mark_bases[I32(args, 0)].load() + static_cast<int64_t>(args[at].As<Number>()->Value());
}

// addMark(id, word, delta, markWord) -> the value before (checked by the caller: an id from
// markBase, words inside the heap).
void AddMark(const FunctionCallbackInfo<Value>& args) {
  int32_t mark = I32(args, 3);
  int32_t* base = g_mark_bases[I32(args, 0)].load();
  args.GetReturnValue().Set(
      sf_add_mark(MarkWord(args, 1), I32(args, 2), mark >= 0 ? base + mark : nullptr));
}

// decMark(id, word, markWord) -> the value before; marks 2 when it was 1, else 1.
void DecMark(const FunctionCallbackInfo<Value>& args) {
  int32_t mark = I32(args, 2);
  int32_t* base = g_mark_bases[I32(args, 0)].load();
  args.GetReturnValue().Set(sf_dec_mark(MarkWord(args, 1), mark >= 0 ? base + mark : nullptr));
}

// casMark(id, word, expected, value, markWord, phase) -> the value seen; marks `phase` on success.
void CasMark(const FunctionCallbackInfo<Value>& args) {
  int32_t mark = I32(args, 4);
  int32_t* base = g_mark_bases[I32(args, 0)].load();
  args.GetReturnValue().Set(sf_cas_mark(MarkWord(args, 1), I32(args, 2), I32(args, 3),
                                        mark >= 0 ? base + mark : nullptr, I32(args, 5)));
}

void Version(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(sf_version());
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  Isolate* isolate = context->GetIsolate();
  auto set = [&](const char* name, v8::FunctionCallback fn) {
    exports
        ->Set(context, String::NewFromUtf8(isolate, name).ToLocalChecked(),
              v8::FunctionTemplate::New(isolate, fn)->GetFunction(context).ToLocalChecked())
        .Check();
  };
  set("version", Version);
  set("map", Map);
  set("mapped", Mapped);
  set("futexWait", FutexWait);
  set("futexWake", FutexWake);
  set("relayCallback", RelayCallback);
  set("relaySubscribe", RelaySubscribe);
  set("relayUnsubscribe", RelayUnsubscribe);
  set("memfd", Memfd);
  set("reserve", Reserve);
  set("markBase", MarkBase);
  set("addMark", AddMark);
  set("decMark", DecMark);
  set("casMark", CasMark);
}

}  // namespace shmframe
