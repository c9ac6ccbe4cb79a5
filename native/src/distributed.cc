#include "distributed.h"

// The wheel was built with Gloo; its headers guard the Gloo process group behind this.
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

namespace tunekit::distributed {
namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> backend;
  std::chrono::milliseconds timeout;
};

std::vector<std::unique_ptr<Group>> groups;

Group& groupOf(int id) {
  if (id < 0 || static_cast<size_t>(id) >= groups.size() || !groups[id]) throw std::runtime_error("process group " + std::to_string(id) + " is not open");
  return *groups[id];
}

bool isLoopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// The address Gloo's pairs listen on: GLOO_SOCKET_IFNAME's interface as torch.distributed reads it, loopback when the
// master is on it (every rank is then on this machine), else the address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> deviceFor(const std::string& masterAddr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (isLoopback(masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

void finish(Group& group, const c10::intrusive_ptr<c10d::Work>& work) {
  work->wait(group.timeout);
}

}  // namespace

int createGroup(const GroupOptions& options) {
  auto group = std::make_unique<Group>();
  group->timeout = std::chrono::milliseconds(options.timeoutMs);
  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = static_cast<std::uint16_t>(options.masterPort);
  storeOptions.isServer = options.rank == 0;
  storeOptions.numWorkers = options.worldSize;
  storeOptions.waitWorkers = true;
  storeOptions.timeout = group->timeout;
  group->store = c10::make_intrusive<c10d::TCPStore>(options.masterAddr, storeOptions);
  auto glooOptions = c10d::ProcessGroupGloo::Options::create(group->timeout);
  glooOptions->devices.push_back(deviceFor(options.masterAddr));
  glooOptions->threads = 1;
  group->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, options.rank, options.worldSize, glooOptions);
  groups.push_back(std::move(group));
  return static_cast<int>(groups.size() - 1);
}

void destroyGroup(int id) {
  groupOf(id);
  groups[id].reset();
}

void allreduceSum(int id, at::Tensor& tensor) {
  Group& group = groupOf(id);
  std::vector<at::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  finish(group, group.backend->allreduce(tensors, options));
}

void broadcast(int id, at::Tensor& tensor, int root) {
  Group& group = groupOf(id);
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  finish(group, group.backend->broadcast(tensors, options));
}

void allgather(int id, at::Tensor& output, at::Tensor& input) {
  Group& group = groupOf(id);
  finish(group, group.backend->_allgather_base(output, input));
}

void reduceScatterSum(int id, at::Tensor& output, at::Tensor& input) {
  Group& group = groupOf(id);
  c10d::ReduceScatterOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  finish(group, group.backend->_reduce_scatter_base(output, input, options));
}

void barrier(int id) {
  Group& group = groupOf(id);
  finish(group, group.backend->barrier());
}

}  // namespace tunekit::distributed
