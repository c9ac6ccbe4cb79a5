// Forked by torch-distributed.test.ts: one rank of a process group that runs each collective once and sends back
// what it saw. argv: rank worldSize port.
import { arange, ProcessGroup, setNumThreads, tensor, tidy, zeros } from '../../src/torch/index.js';

const [rank, worldSize, port] = process.argv.slice(2).map(Number);
setNumThreads(1);
const group = ProcessGroup.init({ rank, worldSize, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 20_000 });
const result = tidy(() => {
  const summed = tensor([1, 2, 3]).mul(rank + 1);
  group.allReduce(summed);
  const broadcast = rank === 0 ? tensor([7, 8], { dtype: 'int64' }) : zeros([2], { dtype: 'int64' });
  group.broadcast(broadcast, 0);
  const gathered = zeros([2 * worldSize]);
  group.allGather(gathered, tensor([rank, rank + 0.5]));
  const scattered = zeros([2]);
  group.reduceScatter(scattered, arange(2 * worldSize).float().add(rank));
  group.barrier();
  return { summed: summed.toFlatArray(), broadcast: broadcast.toFlatArray(), gathered: gathered.toFlatArray(), scattered: scattered.toFlatArray() };
});
group.destroy();
process.send!(result, () => process.exit(0));
