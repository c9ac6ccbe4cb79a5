// torch.distributed's c10d engine for data parallel training: rendezvous through a TCPStore, then a Gloo process
// group over it. Built only where Gloo's headers are present (Debian's libgloo-dev); the symbols are libtorch's own.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace tunekit::distributed {

struct GroupOptions {
  std::string masterAddr;
  int masterPort = 29500;
  int rank = 0;
  int worldSize = 1;
  int64_t timeoutMs = 60000;
};

/** Connects (rank 0 also serves the store) and returns the group's id; throws c10 errors as c10d raises them. */
int createGroup(const GroupOptions& options);
void destroyGroup(int group);

/** In place, sum over ranks. */
void allreduceSum(int group, at::Tensor& tensor);
void broadcast(int group, at::Tensor& tensor, int root);
/** output holds worldSize × input's elements, rank r's input at r's slice. */
void allgather(int group, at::Tensor& output, at::Tensor& input);
/** Sums input (worldSize × output's elements) over ranks and keeps this rank's slice in output. */
void reduceScatterSum(int group, at::Tensor& output, at::Tensor& input);
void barrier(int group);

}  // namespace tunekit::distributed
